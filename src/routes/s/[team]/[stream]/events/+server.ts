import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { tailEvents } from '$lib/server/http/tail-request.ts';

export const GET = streamRoute('read', tailEvents);
export const OPTIONS = streamPreflight();
