import { handleAppend } from '$lib/server/http/append-request.ts';
import { streamPreflight, streamRoute } from '$lib/server/http/stream-route.ts';

export const POST = streamRoute('append', (ctx) => handleAppend(ctx, { batch: true }));
export const OPTIONS = streamPreflight();
