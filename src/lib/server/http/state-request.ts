// GET /s/{team}/{stream}/state/{reducer}: the reducer's state, with read-your-writes (`?after=i`),
// and its Server-Sent Events of state changes.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { channelFor, SAFETY_POLL_MS, watch, type Watch } from '../notify.ts';
import { readReducerState, type ReducerStateView } from '../reducers/read-state.ts';
import { stateAt } from '../reducers/state-at.ts';
import { restartingError, sseRestartHint } from '../lifecycle.ts';
import { openLive, sseEnding } from './live.ts';
import { intParam } from './read-request.ts';
import { jsonText } from './respond.ts';
import type { StreamContext } from './stream-route.ts';

const MAX_AFTER_WAIT_MS = 30_000;

async function current(ctx: StreamContext): Promise<ReducerStateView> {
  const name = ctx.event.params.reducer!;
  const view = await readReducerState({ streamId: ctx.stream.id, name });
  if (!view) throw new AppError('not_found', `No reducer \`${name}\` on stream \`${ctx.stream.slug}\`.`);
  return view;
}

function etag(view: ReducerStateView): string {
  return `W/"${view.version}-${view.folded}"`;
}

/** Waits until event `after` is folded into the live state; refuses to answer with a state that misses it. */
async function waitFolded(ctx: StreamContext, after: number): Promise<ReducerStateView> {
  const deadline = Date.now() + MAX_AFTER_WAIT_MS;
  let view = await current(ctx);
  if (view.folded > after) return view;
  const live = openLive(ctx, { sse: false });
  let folds: Watch | undefined;
  try {
    // Watch, then read again: a fold that committed since the first read is in that read, and any
    // later one is heard.
    folds = await watch(channelFor('folded', view.reducerId));
    view = await current(ctx);
    let lastRead = Date.now();
    while (view.folded <= after) {
      if (view.status === 'errored' && !view.replay && view.errorIndex !== null && view.errorIndex <= after) {
        throw new AppError('conflict', `The reducer stopped at event ${view.errorIndex} (${view.errorMessage}); event ${after} will not be folded until it is fixed.`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new AppError('not_folded', `Event ${after} is not folded yet (${view.folded} folded so far); try again.`, { retryAfter: 1 });
      const folded = await folds.next(live.signal, Math.min(SAFETY_POLL_MS - (Date.now() - lastRead), left));
      if (live.signal.aborted) throw live.draining() ? restartingError() : new AppError('bad_request', 'The client went away.');
      // The state is read when a fold says it passed `after` (or stopped), or after a quiet while.
      if (folded === null || !/^\d+$/.test(folded) || Number(folded) > after || Date.now() - lastRead >= SAFETY_POLL_MS) {
        view = await current(ctx);
        lastRead = Date.now();
      }
    }
    return view;
  } finally {
    folds?.close();
    live.release();
  }
}

/** `?at=i`: the state right after event i (time travel), from the nearest snapshot. */
async function readStateAt(ctx: StreamContext, at: number): Promise<Response> {
  const view = await current(ctx);
  const past = await stateAt({ stream: { id: ctx.stream.id, slug: ctx.stream.slug, team: ctx.team.slug, teamId: ctx.team.id }, reducerId: view.reducerId, index: at });
  // A past state never changes: cacheable for good under its version and position.
  const headers = { etag: `W/"${past.version}-${past.folded}"`, 'pipet-folded': String(past.folded), 'cache-control': 'private, max-age=31536000, immutable' };
  if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return jsonText(past.stateJson, { headers });
}

export async function readState(ctx: StreamContext): Promise<Response> {
  const at = intParam(ctx.url, 'at', { min: 0 });
  if (at !== undefined) {
    if (ctx.url.searchParams.has('after')) throw new AppError('bad_request', 'Use either `at` (a past state) or `after` (wait for a state), not both.');
    return readStateAt(ctx, at);
  }
  const after = intParam(ctx.url, 'after', { min: 0 });
  const view = after === undefined ? await current(ctx) : await waitFolded(ctx, after);
  const headers = { etag: etag(view), 'pipet-folded': String(view.folded), 'cache-control': 'no-cache' };
  if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return jsonText(view.stateJson, { headers });
}

export async function tailState(ctx: StreamContext): Promise<Response> {
  let view = await current(ctx);
  const live = openLive(ctx, { sse: true });
  const signal = live.signal;
  const heartbeatMs = env().SSE_HEARTBEAT_MS;
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => controller.enqueue(encoder.encode(text));
      let sent = '';
      let lastSent = 0;
      let lastRead = Date.now();
      send('retry: 2000\n\n');
      let folds: Watch | undefined;
      try {
        // Watch, then read again: nothing folded after the first read goes unheard.
        folds = await watch(channelFor('folded', view.reducerId));
        view = await current(ctx);
        lastRead = Date.now();
        while (!signal.aborted) {
          const tag = etag(view);
          if (tag !== sent) {
            send(`id: ${view.folded}\ndata: {"folded":${view.folded},"state":${view.stateJson}}\n\n`);
            sent = tag;
            lastSent = Date.now();
          } else if (Date.now() - lastSent >= heartbeatMs) {
            send(': heartbeat\n\n');
            lastSent = Date.now();
          }
          const wait = Math.min(heartbeatMs - (Date.now() - lastSent), SAFETY_POLL_MS - (Date.now() - lastRead));
          const folded = await folds.next(signal, Math.max(1, wait));
          if (!signal.aborted && (folded !== null || Date.now() - lastRead >= SAFETY_POLL_MS)) {
            view = await current(ctx);
            lastRead = Date.now();
          }
        }
      } catch {
        /* client gone, reducer deleted or database trouble: the client reconnects */
      }
      folds?.close();
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
  return new Response(body, { headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' } });
}
