// GET slice, length and element-at: the array half of the public API.
import { AppError } from '../errors.ts';
import { readEvent, readEvents, streamLength } from '../streams/read-events.ts';
import { atIndex, lengthNeededFor, sliceRange } from '../streams/slice-range.ts';
import { waitForLength } from '../streams/tail-events.ts';
import { restartingError } from '../lifecycle.ts';
import { openLive } from './live.ts';
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

export async function readSlice(ctx: StreamContext): Promise<Response> {
  const start = intParam(ctx.url, 'start');
  const end = intParam(ctx.url, 'end');
  const limit = intParam(ctx.url, 'limit', { min: 1, max: 1000 }) ?? 100;
  const length = await currentLength(ctx);
  const range = sliceRange(length, start, end, limit);
  const events = await readEvents({ streamId: ctx.stream.id, start: range.start, end: range.end });
  const headers = new Headers({ 'pipet-length': String(length) });
  if (range.next !== null) {
    const next = new URL(ctx.url);
    next.search = '';
    next.searchParams.set('start', String(range.next));
    if (end !== undefined) next.searchParams.set('end', String(sliceRange(length, start, end, Infinity).end));
    next.searchParams.set('limit', String(limit));
    headers.set('link', `<${next.pathname}${next.search}>; rel="next"`);
  }
  return jsonText(`[${events.map((e) => e.bodyJson).join(',')}]`, { headers });
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
