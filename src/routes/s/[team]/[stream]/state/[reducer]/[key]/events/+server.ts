import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { tailKeyState } from '$lib/server/http/state-request.ts';

export const GET = streamRoute('read', tailKeyState);
export const OPTIONS = streamPreflight();
