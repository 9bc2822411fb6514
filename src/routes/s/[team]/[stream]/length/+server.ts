import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { readLength } from '$lib/server/http/read-request.ts';

export const GET = streamRoute('read', readLength);
export const OPTIONS = streamPreflight();
