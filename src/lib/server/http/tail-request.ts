// GET /s/{team}/{stream}/events: Server-Sent Events of appended elements, resumable.
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { readEvents, streamLength } from '../streams/read-events.ts';
import { watchAppends } from '../streams/tail-events.ts';
import { sseRestartHint } from '../lifecycle.ts';
import { SAFETY_POLL_MS } from '../notify.ts';
import { openLive, sseEnding } from './live.ts';
import { intParam } from './read-request.ts';
import type { StreamContext } from './stream-route.ts';

const PAGE = 500;

export async function tailEvents(ctx: StreamContext): Promise<Response> {
  const { request } = ctx.event;
  const lastId = request.headers.get('last-event-id');
  let cursor: number;
  if (lastId !== null && lastId !== '') {
    if (!/^\d{1,10}$/.test(lastId)) throw new AppError('bad_request', 'Last-Event-ID must be an event index.');
    cursor = Number(lastId) + 1;
  } else {
    const from = intParam(ctx.url, 'from');
    const length = (await streamLength({ streamId: ctx.stream.id })) ?? 0;
    // No position given: live from now on, like `tail -f`. Negative `from` counts from the end.
    cursor = from === undefined ? length : from < 0 ? Math.max(0, length + from) : from;
  }
  const streamId = ctx.stream.id;
  const live = openLive(ctx, { sse: true });
  const signal = live.signal;
  const encoder = new TextEncoder();
  const heartbeatMs = env().SSE_HEARTBEAT_MS;

  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      send(`retry: 2000\n: tailing from ${cursor}\n\n`);
      let lastSent = Date.now();
      // Watch before reading the length: an append that commits after the read is always heard.
      const appends = await watchAppends(streamId);
      let length = (await streamLength({ streamId }).catch(() => null)) ?? 0;
      let lastRead = Date.now();
      try {
        while (!signal.aborted) {
          if (cursor < length) {
            const events = await readEvents({ streamId, start: cursor, end: Math.min(length, cursor + PAGE) });
            for (const e of events) {
              send(`id: ${e.index}\ndata: {"index":${e.index},"receivedAt":"${e.receivedAt.toISOString()}","body":${e.bodyJson}}\n\n`);
              cursor = e.index + 1;
            }
            lastSent = Date.now();
            if (events.length === 0) length = cursor; // the stream was emptied under us
            continue;
          }
          if (Date.now() - lastSent >= heartbeatMs) {
            send(': heartbeat\n\n');
            lastSent = Date.now();
          }
          const wait = Math.min(heartbeatMs - (Date.now() - lastSent), SAFETY_POLL_MS - (Date.now() - lastRead));
          const message = await appends.next(signal, Math.max(1, wait));
          // PostgreSQL is read when an append announces a longer stream, or after a quiet while.
          if ((message !== null && Number(message) > cursor) || Date.now() - lastRead >= SAFETY_POLL_MS) {
            length = (await streamLength({ streamId })) ?? 0;
            lastRead = Date.now();
          }
        }
      } catch {
        /* client gone or database trouble: the client reconnects with Last-Event-ID */
      }
      appends.close();
      live.release();
      try {
        const ending = sseEnding(live, sseRestartHint());
        if (ending) send(ending);
        controller.close();
      } catch {
        /* already closed */
      }
    },
  });
  return new Response(body, {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' },
  });
}
