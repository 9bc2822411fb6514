// GET slice, length and element-at: the array half of the public API.
import { AppError } from '../errors.ts';
import { readEvent, readEventChunks, sliceEndWithin, streamLength, type StoredEvent } from '../streams/read-events.ts';
import { env } from '../env.ts';
import { atIndex, lengthNeededFor, sliceRange } from '../streams/slice-range.ts';
import { waitForLength } from '../streams/tail-events.ts';
import { restartingError } from '../lifecycle.ts';
import { openLive, throwIfRefused } from './live.ts';
import { json, jsonText } from './respond.ts';
import type { StreamContext } from './stream-route.ts';

const INTEGER = /^-?\d{1,10}$/;

/** An optional integer query parameter within [min, max]; anything else is a 400. */
export function intParam(url: URL, name: string, { min = -(2 ** 31), max = 2 ** 31 - 1 } = {}): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === '') return undefined;
  const value = Number(raw);
  if (!INTEGER.test(raw) || value < min || value > max) {
    throw new AppError('bad_request', `\`${name}\` must be an integer from ${min} to ${max}.`);
  }
  return value;
}

async function currentLength(ctx: StreamContext): Promise<number> {
  const length = await streamLength({ streamId: ctx.stream.id });
  if (length === null) throw new AppError('not_found', 'No such stream.');
  return length;
}

/** `Accept: application/x-ndjson` asks for the slice as NDJSON: every element in range, of any size. */
function wantsNdjson(request: Request): boolean {
  return /application\/x-ndjson/i.test(request.headers.get('accept') ?? '');
}

export async function readSlice(ctx: StreamContext): Promise<Response> {
  if (wantsNdjson(ctx.event.request)) return readSliceNdjson(ctx);
  const start = intParam(ctx.url, 'start');
  const end = intParam(ctx.url, 'end');
  const limit = intParam(ctx.url, 'limit', { min: 1, max: 1000 }) ?? 100;
  const length = await currentLength(ctx);
  const asked = sliceRange(length, start, end, limit);
  // Bounded in bytes as well as in count: a page of big events stops early and says where to go on.
  const cut = await sliceEndWithin({ streamId: ctx.stream.id, start: asked.start, end: asked.end, maxBytes: env().SLICE_MAX_BYTES });
  const range = { start: asked.start, end: cut, next: cut < asked.end ? cut : asked.next };
  const headers = new Headers({ 'pipet-length': String(length), 'content-type': 'application/json; charset=utf-8' });
  if (range.next !== null) {
    const next = new URL(ctx.url);
    next.search = '';
    next.searchParams.set('start', String(range.next));
    if (end !== undefined) next.searchParams.set('end', String(sliceRange(length, start, end, Infinity).end));
    next.searchParams.set('limit', String(limit));
    headers.set('link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  return new Response(await chunkedBody(ctx.stream.id, range, ctx.event.request.signal), { headers });
}

/**
 * The NDJSON export: slice(start, end) (the whole stream by default), one line per element,
 * `{"index","receivedAt","body"}`. No page limit and no byte cut: it is written a chunk at a time
 * as the client reads, so memory stays flat however long the range. The end is the length when
 * the request came; `Pipet-Length` says it, so a client resuming after a break asks for the same end.
 */
async function readSliceNdjson(ctx: StreamContext): Promise<Response> {
  const length = await currentLength(ctx);
  const range = sliceRange(length, intParam(ctx.url, 'start'), intParam(ctx.url, 'end'), Infinity);
  const line = (e: StoredEvent) => `{"index":${e.index},"receivedAt":"${e.receivedAt.toISOString()}","body":${e.bodyJson}}\n`;
  const body = await chunkedBody(ctx.stream.id, range, ctx.event.request.signal, { open: '', item: line, separator: '', close: '' });
  return new Response(body, { headers: { 'pipet-length': String(length), 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store' } });
}

/** How a chunked body is framed: a JSON array's brackets and commas, or NDJSON's lines. */
type Framing = { open: string; item: (e: StoredEvent) => string; separator: string; close: string };

const JSON_ARRAY: Framing = { open: '[', item: (e) => e.bodyJson, separator: ',', close: ']' };

/**
 * A slice's body, written as it is read: one chunk of events in memory at a time, read when the
 * client has taken the last one, and nothing more read once it goes away. The first chunk is read
 * before answering, so a database failure is still an honest error status.
 */
async function chunkedBody(streamId: string, range: { start: number; end: number }, signal: AbortSignal, framing: Framing = JSON_ARRAY): Promise<ReadableStream<Uint8Array>> {
  const gone = new AbortController();
  const chunks = readEventChunks({ streamId, start: range.start, end: range.end, signal: AbortSignal.any([signal, gone.signal]) });
  const encoder = new TextEncoder();
  let first: IteratorResult<StoredEvent[]> | undefined = await chunks.next();
  let started = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const chunk = first ?? (await chunks.next());
        first = undefined;
        if (chunk.done) {
          controller.enqueue(encoder.encode(started ? framing.close : framing.open + framing.close));
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode((started ? framing.separator : framing.open) + chunk.value.map(framing.item).join(framing.separator)));
        started = true;
      },
      async cancel() {
        gone.abort();
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );
}

export async function readLength(ctx: StreamContext): Promise<Response> {
  return json(await currentLength(ctx));
}

export async function readAt(ctx: StreamContext): Promise<Response> {
  const raw = ctx.event.params.index!;
  if (!INTEGER.test(raw)) throw new AppError('invalid_index', `\`${raw}\` is not an index: use an integer (negative counts from the end).`);
  const index = Number(raw);
  const wait = intParam(ctx.url, 'wait', { min: 0, max: 60 });
  let length = await currentLength(ctx);
  if (atIndex(length, index) === null && wait) {
    const live = openLive(ctx, { sse: false });
    try {
      length = await waitForLength(ctx.stream.id, lengthNeededFor(index), wait * 1000, live.signal);
      if (atIndex(length, index) === null) throwIfRefused(live);
      if (atIndex(length, index) === null && live.draining()) throw restartingError();
    } finally {
      live.release();
    }
  }
  const absolute = atIndex(length, index);
  const event = absolute === null ? null : await readEvent({ streamId: ctx.stream.id, index: absolute });
  if (!event) throw new AppError('not_found', `No element at index ${index}: the stream's length is ${length}.`);
  return jsonText(event.bodyJson, {
    headers: { 'pipet-index': String(event.index), 'pipet-received-at': event.receivedAt.toISOString(), 'pipet-length': String(length) },
  });
}
