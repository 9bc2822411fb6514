import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { readAt } from '$lib/server/http/read-request.ts';

export const GET = streamRoute('read', readAt);
export const OPTIONS = streamPreflight();
