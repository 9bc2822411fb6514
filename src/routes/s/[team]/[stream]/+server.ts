import { handleAppend } from '$lib/server/http/append-request.ts';
import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';
import { readSlice } from '$lib/server/http/read-request.ts';

export const POST = streamRoute('append', (ctx) => handleAppend(ctx, { batch: false }));
export const GET = streamRoute('read', readSlice);
export const OPTIONS = streamPreflight();
