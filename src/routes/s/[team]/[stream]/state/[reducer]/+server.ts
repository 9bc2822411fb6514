import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { readState } from '$lib/server/http/state-request.ts';

export const GET = streamRoute('read', readState);
export const OPTIONS = streamPreflight();
