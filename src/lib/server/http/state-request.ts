// GET /s/{team}/{stream}/state/{reducer}: the reducer's state, with read-your-writes (`?after=i`),
// and its Server-Sent Events of state changes.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { channelFor, SAFETY_POLL_MS, watch, type Watch } from '../notify.ts';
import { readReducerKey, readReducerState, type ReducerStateView } from '../reducers/read-state.ts';
import { stateAt } from '../reducers/state-at.ts';
import { interactiveCall } from '../reducers/interactive-call.ts';
import { keyAt, listKeys, readKey, type KeyState } from '../reducers/read-keys.ts';
import { deleteKey } from '../reducers/delete-key.ts';
import { MAX_KEY_BYTES } from '../reducers/sandbox/index.ts';
import { restartingError, sseRestartHint } from '../lifecycle.ts';
import { openLive, sseEnding, throwIfRefused } from './live.ts';
import { intParam } from './read-request.ts';
import { json, jsonText } from './respond.ts';
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
      if (live.signal.aborted) throwIfRefused(live);
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
  if (view.keyed) throw new AppError('bad_request', `Time travel on a keyed reducer is per key: GET …/state/${ctx.event.params.reducer}/{key}?at=${at}.`);
  // Folding from a snapshot is expensive interactive work: capped per team, CPU-budgeted, stopped when the client leaves.
  const stream = { id: ctx.stream.id, slug: ctx.stream.slug, team: ctx.team.slug, teamId: ctx.team.id };
  const past = await interactiveCall({ teamId: ctx.team.id, signal: ctx.event.request.signal }, (budget) => stateAt({ stream, reducerId: view.reducerId, index: at, budget }));
  // A past state never changes: cacheable for good under its version and position.
  const headers = { etag: `W/"${past.version}-${past.folded}"`, 'pipet-folded': String(past.folded), 'cache-control': 'private, max-age=31536000, immutable' };
  if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return jsonText(past.stateJson, { headers });
}

export async function readState(ctx: StreamContext): Promise<Response> {
  const at = intParam(ctx.url, 'at', { min: 0 });
  const key = ctx.url.searchParams.get('key');
  // `?key=` reads one key (the way to a key whose name is a route's own word, such as `events`).
  if (key !== null) return readKeyState(ctx, key);
  if (at !== undefined) {
    if (ctx.url.searchParams.has('after')) throw new AppError('bad_request', 'Use either `at` (a past state) or `after` (wait for a state), not both.');
    return readStateAt(ctx, at);
  }
  const after = intParam(ctx.url, 'after', { min: 0 });
  // One read (or one wait) serves both kinds: a keyed reducer answers with a page of its keys.
  const view = after === undefined ? await current(ctx) : await waitFolded(ctx, after);
  if (view.keyed) return readKeyPage(ctx, view);
  const headers = { etag: etag(view), 'pipet-folded': String(view.folded), 'cache-control': 'no-cache' };
  if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return jsonText(view.stateJson, { headers });
}

export async function tailState(ctx: StreamContext): Promise<Response> {
  return tailChanges(ctx, async () => {
    const view = await current(ctx);
    // A keyed reducer's own state is its keys: its stream of changes says how far it folded and how many keys it holds.
    const data = view.keyed ? `{"folded":${view.folded},"keys":${view.keyed.keyCount}}` : `{"folded":${view.folded},"state":${view.stateJson}}`;
    return { view, tag: view.keyed ? `${view.folded}-${view.keyed.keyCount}` : etag(view), id: view.folded, data };
  });
}

/** GET …/state/{reducer}/{key}/events: Server-Sent Events of one key's changes. */
export async function tailKeyState(ctx: StreamContext): Promise<Response> {
  const name = ctx.event.params.reducer!;
  const key = checkKey(ctx.event.params.key!);
  const first = keyedView(await current(ctx), name);
  const read = async () => {
    const view = keyedView(await current(ctx), name);
    const state = await readKey({ streamId: ctx.stream.id, reducerId: view.reducerId, lineage: view.keyed.lineage, key });
    // Nothing to say until the key is seen (or after it is deleted): the stream waits.
    if (!state) return { view, tag: `none-${view.keyed.lineage}`, id: view.folded, data: null };
    return { view, tag: keyEtag(view, state), id: view.folded, data: `{"folded":${view.folded},"index":${state.index},"state":${state.stateJson}}` };
  };
  return tailChanges(ctx, read, first);
}

type Change = { view: ReducerStateView; tag: string; id: number; data: string | null };

/** An SSE response that sends `read()`'s data whenever its tag changes: read when a fold is announced, or every safety poll. */
async function tailChanges(ctx: StreamContext, read: () => Promise<Change>, first?: ReducerStateView): Promise<Response> {
  const view = first ?? (await current(ctx));
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
        // Watch, then read: nothing folded after the first read goes unheard.
        folds = await watch(channelFor('folded', view.reducerId));
        let change = await read();
        lastRead = Date.now();
        while (!signal.aborted) {
          if (change.tag !== sent && change.data !== null) {
            send(`id: ${change.id}\ndata: ${change.data}\n\n`);
            sent = change.tag;
            lastSent = Date.now();
          } else if (Date.now() - lastSent >= heartbeatMs) {
            send(': heartbeat\n\n');
            lastSent = Date.now();
          }
          const wait = Math.min(heartbeatMs - (Date.now() - lastSent), SAFETY_POLL_MS - (Date.now() - lastRead));
          const folded = await folds.next(signal, Math.max(1, wait));
          if (!signal.aborted && (folded !== null || Date.now() - lastRead >= SAFETY_POLL_MS)) {
            change = await read();
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

// ---- keyed reducers: one state per key ----

const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

function keyedView(view: ReducerStateView, name: string): ReducerStateView & { keyed: NonNullable<ReducerStateView['keyed']> } {
  if (!view.keyed) throw new AppError('not_found', `Reducer \`${name}\` is not keyed: it has one state, at …/state/${name}.`);
  return view as ReducerStateView & { keyed: NonNullable<ReducerStateView['keyed']> };
}

/** The key from the path (or `?key=`), within the rules every key follows. */
function checkKey(key: string): string {
  if (key === '') throw new AppError('bad_request', 'The key is empty.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new AppError('bad_request', `A key is at most ${MAX_KEY_BYTES} bytes of UTF-8; this one has ${Buffer.byteLength(key)}.`);
  return key;
}

function keyEtag(view: ReducerStateView & { keyed: { lineage: number } }, state: KeyState): string {
  return `W/"k${view.keyed.lineage}-${state.index}"`;
}

function notSeen(key: string, name: string): AppError {
  return new AppError('not_found', `Reducer \`${name}\` has never seen the key \`${key}\` (or it was deleted).`);
}

/** GET …/state/{reducer}/{key}: one key's state, with `?after=` (read your writes), `?at=` (time travel) and ETags. */
export async function readKeyState(ctx: StreamContext, given = ctx.event.params.key!): Promise<Response> {
  const name = ctx.event.params.reducer!;
  const key = checkKey(given);
  const at = intParam(ctx.url, 'at', { min: 0 });
  if (at !== undefined) {
    if (ctx.url.searchParams.has('after')) throw new AppError('bad_request', 'Use either `at` (a past state) or `after` (wait for a state), not both.');
    const view = keyedView(await current(ctx), name);
    if (at >= view.folded) {
      const why = view.status === 'errored' && view.errorIndex !== null && view.errorIndex <= at ? `it stopped at event ${view.errorIndex}` : `${view.folded} folded so far`;
      throw new AppError('conflict', `Event ${at} is not folded yet (${why}); its state can be read once it is.`);
    }
    const past = await keyAt({ streamId: ctx.stream.id, reducerId: view.reducerId, lineage: view.keyed.lineage, key, index: at });
    if (!past) throw new AppError('not_found', `Reducer \`${name}\` had not seen the key \`${key}\` by event ${at}.`);
    const headers = { etag: keyEtag(view, past), 'pipet-folded': String(at + 1), 'pipet-index': String(past.index), 'cache-control': 'private, max-age=31536000, immutable' };
    if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
    return jsonText(past.stateJson, { headers });
  }
  const after = intParam(ctx.url, 'after', { min: 0 });
  let view: ReturnType<typeof keyedView>;
  let state: KeyState | null;
  if (after === undefined) {
    // The reducer and the key in one statement: one round trip for the common read.
    const both = await readReducerKey({ streamId: ctx.stream.id, name, key });
    if (!both) throw new AppError('not_found', `No reducer \`${name}\` on stream \`${ctx.stream.slug}\`.`);
    view = keyedView(both.view, name);
    state = both.key;
  } else {
    view = keyedView(await waitFolded(ctx, after), name);
    state = await readKey({ streamId: ctx.stream.id, reducerId: view.reducerId, lineage: view.keyed.lineage, key });
  }
  if (!state) throw notSeen(key, name);
  const headers = { etag: keyEtag(view, state), 'pipet-folded': String(view.folded), 'pipet-index': String(state.index), 'cache-control': 'no-cache' };
  if (ctx.event.request.headers.get('if-none-match') === headers.etag) return new Response(null, { status: 304, headers });
  return jsonText(state.stateJson, { headers });
}

/** GET …/state/{reducer} on a keyed reducer: a page of keys with their states, in code point order. */
async function readKeyPage(ctx: StreamContext, read: ReducerStateView): Promise<Response> {
  const name = ctx.event.params.reducer!;
  const view = keyedView(read, name);
  const limit = intParam(ctx.url, 'limit', { min: 1, max: PAGE_MAX }) ?? PAGE_DEFAULT;
  const prefix = ctx.url.searchParams.get('prefix') ?? '';
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES) throw new AppError('bad_request', `A prefix is at most ${MAX_KEY_BYTES} bytes of UTF-8.`);
  const cursor = ctx.url.searchParams.get('cursor');
  let last: string | null = null;
  if (cursor !== null) {
    last = Buffer.from(cursor, 'base64url').toString('utf8');
    if (!/^[A-Za-z0-9_-]+$/.test(cursor) || last === '' || Buffer.from(last).toString('base64url') !== cursor) throw new AppError('bad_request', 'This cursor is not one a page of keys gave (`next`).');
  }
  const page = await listKeys({ streamId: ctx.stream.id, reducerId: view.reducerId, lineage: view.keyed.lineage, prefix, after: last, limit });
  const next = page.next === null ? null : Buffer.from(page.next).toString('base64url');
  const body = `{"keys":[${page.keys.map((k) => `{"key":${JSON.stringify(k.key)},"state":${k.stateJson},"index":${k.index}}`).join(',')}],"next":${JSON.stringify(next)}}`;
  const headers: Record<string, string> = { 'pipet-keys': String(view.keyed.keyCount), 'pipet-folded': String(view.folded), 'cache-control': 'no-cache' };
  if (next !== null) {
    const link = new URL(ctx.url);
    link.searchParams.set('cursor', next);
    link.searchParams.delete('after');
    headers.link = `<${link.pathname}${link.search}>; rel="next"`;
  }
  return jsonText(body, { headers });
}

/** DELETE …/state/{reducer}/{key} (a manage key or a member): forgets the key, its history and its pending timers. */
export async function deleteKeyState(ctx: StreamContext): Promise<Response> {
  const name = ctx.event.params.reducer!;
  const key = checkKey(ctx.event.params.key!);
  const view = keyedView(await current(ctx), name);
  const done = await deleteKey({ streamId: ctx.stream.id, reducerId: view.reducerId, key }).catch((error: unknown) => {
    throw error instanceof AppError && error.code === 'not_found' ? notSeen(key, name) : error;
  });
  return json({ deleted: done.key, timersCancelled: done.timersCancelled });
}
