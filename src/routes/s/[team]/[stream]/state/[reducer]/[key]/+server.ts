import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { deleteKeyState, readKeyState } from '$lib/server/http/state-request.ts';

export const GET = streamRoute('read', (ctx) => readKeyState(ctx));
export const DELETE = streamRoute('manage', deleteKeyState);
export const OPTIONS = streamPreflight();
