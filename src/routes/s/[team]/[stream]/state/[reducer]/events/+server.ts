import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { tailState } from '$lib/server/http/state-request.ts';

export const GET = streamRoute('read', tailState);
export const OPTIONS = streamPreflight();
