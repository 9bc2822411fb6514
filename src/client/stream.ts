// One stream of a Pipet server, typed by its events: the Array half (push, at, slice, length), the
// live half (tail, watch) and reducers' state, over the public HTTP API (docs/api.md).
import { PipetError } from './errors.ts';
import { readLines } from './lines.ts';
import { retryDelay, sleep } from './retry.ts';
import { readSse } from './sse.ts';
import { randomKey, type Transport } from './transport.ts';
import type { Batcher } from './batcher.ts';

/** An element with its place: what the tail, `entries()` and NDJSON export give. */
export type Entry<T> = { index: number; receivedAt: string; body: T };
export type PushResult = { index: number; length: number; replayed: boolean };
export type PushManyResult = { first: number; count: number; length: number; replayed: boolean };
/** A reducer's state as it changes (`index`: the key's last event, for one key of a keyed reducer). */
export type StateChange<S> = { folded: number; state: S; index?: number };

export type PushOptions = { idempotencyKey?: string; signal?: AbortSignal };
export type TailOptions = { from?: number; signal?: AbortSignal };
export type RangeOptions = { start?: number; end?: number; signal?: AbortSignal };
export type StateOptions = { after?: number; at?: number; key?: string; signal?: AbortSignal };
export type WatchOptions = { key?: string; signal?: AbortSignal };

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PAGE = 1000;

/** `team/stream` → the stream's path on the server; anything else is a TypeError. */
export function streamPath(name: string): string {
  const [team, stream, ...rest] = name.split('/');
  if (rest.length > 0 || !team || !stream || !SLUG.test(team) || !SLUG.test(stream)) {
    throw new TypeError(`\`${name}\` is not a stream: write \`team/stream\`, each 1-63 lowercase letters, digits and dashes.`);
  }
  return `/s/${team}/${stream}`;
}

/** The absolute end a slice(start, end) reaches on an array of `length`, like Array.prototype.slice. */
function absolute(value: number, length: number): number {
  return value < 0 ? Math.max(length + value, 0) : Math.min(value, length);
}

export class PipetStream<T = unknown> {
  /** `team/stream`. */
  readonly name: string;
  /** `/s/team/stream`. */
  readonly path: string;
  private readonly transport: Transport;
  private readonly batcher: () => Batcher;

  constructor(name: string, transport: Transport, batcher: () => Batcher) {
    this.name = name;
    this.path = streamPath(name);
    this.transport = transport;
    this.batcher = batcher;
  }

  /** Appends one event; `{ index, length }`. Sent with an idempotency key, so its retries never append twice. */
  async push(event: T, { idempotencyKey = randomKey(), signal }: PushOptions = {}): Promise<PushResult> {
    const res = await this.transport.call(this.path, { method: 'POST', body: JSON.stringify(event), headers: json(idempotencyKey), signal, retry: true });
    const { index, length } = (await res.json()) as { index: number; length: number };
    return { index, length, replayed: res.status === 200 };
  }

  /** Appends events in order, all or nothing (`POST …/batch`). */
  async pushMany(events: T[], { idempotencyKey = randomKey(), signal }: PushOptions = {}): Promise<PushManyResult> {
    const res = await this.transport.call(`${this.path}/batch`, { method: 'POST', body: JSON.stringify(events), headers: json(idempotencyKey), signal, retry: true });
    const { first, count, length } = (await res.json()) as { first: number; count: number; length: number };
    return { first, count, length, replayed: res.status === 200 };
  }

  /** Buffers the event; it is sent in a batch (by size and time) and stored by `flush()` / `close()`. */
  enqueue(event: T): void {
    this.batcher().add(event);
  }

  /** Sends this stream's buffered events and waits until they are stored. */
  flush(): Promise<void> {
    return this.batcher().flush();
  }

  /** The element at `index` (negative counts from the end), or undefined past the end, like Array.prototype.at. */
  async at(index: number, options: { wait?: number; signal?: AbortSignal } = {}): Promise<T | undefined> {
    return (await this.entry(index, options))?.body;
  }

  /** The element at `index` with its index and receive time; `wait` holds until it exists (≤ 60 s). */
  async entry(index: number, { wait, signal }: { wait?: number; signal?: AbortSignal } = {}): Promise<Entry<T> | undefined> {
    try {
      const res = await this.transport.call(`${this.path}/${Math.trunc(index)}`, { query: { wait }, signal });
      const body = (await res.json()) as T;
      return { index: Number(res.headers.get('pipet-index')), receivedAt: res.headers.get('pipet-received-at') ?? '', body };
    } catch (error) {
      // The stream exists but has no element there: Array.prototype.at's undefined.
      if (error instanceof PipetError && error.status === 404 && /^No element at index/.test(error.message)) return undefined;
      throw error;
    }
  }

  async length(options: { signal?: AbortSignal } = {}): Promise<number> {
    return this.transport.json<number>(`${this.path}/length`, options);
  }

  /** slice(start, end) as Array.prototype.slice has it, every page of it in memory (use `entries()` for big ranges). */
  async slice(start?: number, end?: number, { signal }: { signal?: AbortSignal } = {}): Promise<T[]> {
    const out: T[] = [];
    let query: Record<string, string | number | undefined> | null = { start, end, limit: PAGE };
    while (query) {
      const res = await this.transport.call(this.path, { query, signal });
      out.push(...((await res.json()) as T[]));
      // The next page's query, from `Link: <…>; rel="next"` (absolute positions).
      const link = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get('link') ?? '')?.[1];
      query = link ? Object.fromEntries(new URL(link, 'http://pipet.invalid').searchParams) : null;
    }
    return out;
  }

  /**
   * The elements of slice(start, end) with their indices and receive times, streamed as NDJSON (any
   * size, constant memory). The end is fixed by the first answer; a broken connection resumes after
   * the last element given, so none is skipped or repeated.
   */
  async *entries({ start = 0, end, signal }: RangeOptions = {}): AsyncGenerator<Entry<T>> {
    let from = start;
    let until = end;
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.transport.call(this.path, { query: { start: from, end: until }, headers: { accept: 'application/x-ndjson' }, signal });
      } catch (error) {
        throw PipetError.from(error);
      }
      // Later requests name absolute positions: the range is the one the first answer saw.
      const length = Number(res.headers.get('pipet-length'));
      from = absolute(from, length);
      until = until === undefined ? length : absolute(until, length);
      try {
        for await (const line of readLines(res.body!)) {
          const entry = JSON.parse(line) as Entry<T>;
          from = entry.index + 1;
          yield entry;
        }
        return;
      } catch (error) {
        if (signal?.aborted || error instanceof SyntaxError || attempt > this.transport.policy.retries) throw PipetError.from(error);
        await sleep(retryDelay(attempt, undefined, this.transport.policy), signal);
      }
    }
  }

  /**
   * Every element from `from` on (default: from the end, like `tail -f`), live, for as long as the
   * loop runs. Reconnects after a break with Last-Event-ID: never a gap, never a duplicate.
   */
  async *tail({ from, signal }: TailOptions = {}): AsyncGenerator<Entry<T>> {
    let next = from === undefined ? await this.length({ signal }) : from < 0 ? Math.max(0, (await this.length({ signal })) + from) : from;
    const resume = () => (next > 0 ? { headers: { 'last-event-id': String(next - 1) } } : { query: { from: 0 } });
    for await (const message of this.live('/events', resume, signal)) {
      const entry = JSON.parse(message) as Entry<T>;
      if (entry.index < next) continue;
      if (entry.index > next) throw new PipetError('internal', 0, `The tail skipped from ${next} to ${entry.index}.`);
      next = entry.index + 1;
      yield entry;
    }
  }

  /** A reducer's state (`key`: one key's, of a keyed reducer); `after: i` waits until event i is folded; `at: i` is the state right after i. */
  async state<S = unknown>(reducer: string, { after, at, key, signal }: StateOptions = {}): Promise<S> {
    const { path, query } = this.statePath(reducer, key);
    return this.transport.json<S>(path, { query: { ...query, after, at }, signal });
  }

  /** The reducer's state (or one key's) each time it changes, live; reconnects by itself. */
  async *watch<S = unknown>(reducer: string, { key, signal }: WatchOptions = {}): AsyncGenerator<StateChange<S>> {
    const { path, query } = this.statePath(reducer, key);
    const events = path.slice(this.path.length) + '/events';
    let last = '';
    for await (const message of this.live(events, () => ({ query }), signal)) {
      if (message === last) continue; // the same state, said again after a reconnection
      last = message;
      yield JSON.parse(message) as StateChange<S>;
    }
  }

  private statePath(reducer: string, key: string | undefined): { path: string; query: Record<string, string> } {
    const base = `${this.path}/state/${encodeURIComponent(reducer)}`;
    if (key === undefined) return { path: base, query: {} };
    // `events` is a route's own word under a reducer: that key goes by query.
    return key === 'events' ? { path: base, query: { key } } : { path: `${base}/${encodeURIComponent(key)}`, query: {} };
  }

  /** The data of an SSE route's messages, across reconnections (`resume` says from where), until the loop stops. */
  private async *live(route: string, resume: () => { headers?: Record<string, string>; query?: Record<string, string | number> }, signal?: AbortSignal): AsyncGenerator<string> {
    let retryMs = 2000;
    for (let attempt = 1; ; ) {
      try {
        const { headers, query } = resume();
        const res = await this.transport.once(this.path + route, { query, headers: { accept: 'text/event-stream', ...headers }, signal });
        attempt = 1;
        for await (const message of readSse(res.body!, (ms) => (retryMs = ms))) {
          if (message.event === 'end') throw endError(message.data);
          if (message.event === 'message') yield message.data;
        }
        // The server ended it (a restart, the connection's maximum age): come back as it said.
        await sleep(Math.min(retryMs, this.transport.policy.maxMs), signal);
      } catch (error) {
        if (signal?.aborted) return;
        const failure = PipetError.from(error);
        if (!failure.retryable) throw failure;
        await sleep(retryDelay(attempt++, failure.retryAfter, this.transport.policy), signal).catch(() => {});
        if (signal?.aborted) return;
      }
    }
  }
}

function json(idempotencyKey: string): Record<string, string> {
  return { 'content-type': 'application/json', 'idempotency-key': idempotencyKey };
}

/** The server's last word on a stream it ended: `event: end` with `{"reason","message"}`. */
function endError(data: string): PipetError {
  try {
    const { reason, message } = JSON.parse(data) as { reason?: string; message?: string };
    return new PipetError(reason ?? 'unauthorized', reason === 'unauthorized' ? 401 : 0, message ?? 'The server ended the stream.');
  } catch {
    return new PipetError('unauthorized', 401, 'The server ended the stream.');
  }
}
