// `pipet/client` in Node against a real web process and worker: the Array (push, at, slice,
// length), the tail across broken connections, state with read-your-writes and per key, watch,
// buffered ingest through 503s and lost answers, the typed management API and typed errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStream, makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { Pipet, PipetError, type Entry } from '../../src/client/index.ts';

const own = await useOwnDatabase('client');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

type Click = { click: number };
type Step = { user: string; step: string };

let web: Running;
let worker: Running;
let team: TeamFixture;
let key: string;

beforeAll(async () => {
  web = await startWeb({ ...own.env, SSE_HEARTBEAT_MS: '300', KEY_RATE_LIMIT_PER_MINUTE: '1000000', ACCOUNT_RATE_LIMIT_PER_MINUTE: '1000000' });
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  key = await team.key(['ingest', 'read']);
  const clicks = await makeStream(db(), { teamId: team.id, slug: 'clicks', name: 'clicks' });
  await upsertReducer({ streamId: clicks.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
  const steps = await makeStream(db(), { teamId: team.id, slug: 'steps', name: 'steps' });
  await upsertReducer({ streamId: steps.id, name: 'users', code: '(s, e) => ({ steps: [...s.steps, e.step] })', keyBy: '(e) => e.user', initialState: { steps: [] } });
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
});

/** Reads every stored body of a stream straight from the server. */
async function stored<T>(pipet: Pipet, name: string): Promise<T[]> {
  return pipet.stream<T>(name).slice();
}

describe('the Array', () => {
  it('pushes, reads at (negative from the end, undefined past it), slices across pages and counts', async () => {
    const pipet = new Pipet({ url: web.url, key });
    const s = pipet.stream<Click>(`${team.slug}/arr`);
    expect(await s.push({ click: 0 })).toEqual({ index: 0, length: 1, replayed: false });
    const many = await s.pushMany(Array.from({ length: 1499 }, (_, i) => ({ click: i + 1 })));
    expect(many).toMatchObject({ first: 1, count: 1499, length: 1500 });
    expect(await s.at(0)).toEqual({ click: 0 });
    expect(await s.at(-1)).toEqual({ click: 1499 });
    expect(await s.at(1500)).toBeUndefined();
    const entry = await s.entry(7);
    expect(entry).toMatchObject({ index: 7, body: { click: 7 } });
    expect(Date.parse(entry!.receivedAt)).toBeGreaterThan(0);
    expect(await s.length()).toBe(1500);
    // More than one page (1000 a page): the client follows Link: rel="next".
    expect((await s.slice()).map((e) => e.click)).toEqual(Array.from({ length: 1500 }, (_, i) => i));
    expect(await s.slice(-3)).toEqual([{ click: 1497 }, { click: 1498 }, { click: 1499 }]);
    expect(await s.slice(10, 12)).toEqual([{ click: 10 }, { click: 11 }]);
  });

  it('streams entries() as NDJSON with indices, resuming after a broken connection without a gap or a repeat', async () => {
    const pipet = new Pipet({ url: web.url, key });
    const s = pipet.stream<Click>(`${team.slug}/arr`);
    let broken = 0;
    const breaking = new Pipet({ url: web.url, key, fetch: breakBodies(() => broken++ < 2, 40_000) });
    const seen = [] as number[];
    for await (const e of breaking.stream<Click>(`${team.slug}/arr`).entries({ start: 100 })) seen.push(e.index);
    expect(broken).toBeGreaterThanOrEqual(2);
    expect(seen).toEqual(Array.from({ length: 1400 }, (_, i) => i + 100));
    const tail = [] as Entry<Click>[];
    for await (const e of s.entries({ start: -2 })) tail.push(e);
    expect(tail.map((e) => [e.index, e.body.click])).toEqual([[1498, 1498], [1499, 1499]]);
  });

  it('reports errors as PipetError with the server’s code, status and message', async () => {
    const readOnly = new Pipet({ url: web.url, key: await team.key(['read']) });
    const refused = await readOnly.stream(`${team.slug}/arr`).push({}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PipetError);
    expect(refused).toMatchObject({ code: 'forbidden', status: 403 });
    expect((refused as PipetError).message).toMatch(/scope/i);
    const unknown = await new Pipet({ url: web.url, key: 'pk_nope_nope' }).stream(`${team.slug}/arr`).length().catch((e: unknown) => e);
    expect(unknown).toMatchObject({ code: 'unauthorized', status: 401 });
    const missing = await new Pipet({ url: web.url, key }).stream(`${team.slug}/arr`).state('nothing').catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'not_found', status: 404 });
    expect(() => new Pipet({ url: web.url, key }).stream('no-slash')).toThrow(/team\/stream/);
  });
});

describe('tail', () => {
  it('gives every event once, in order, across broken connections, resuming with Last-Event-ID', async () => {
    const name = `${team.slug}/live`;
    const writer = new Pipet({ url: web.url, key }).stream<Click>(name);
    await writer.push({ click: 0 });
    const sent: (string | null)[] = [];
    let breaks = 0;
    const fetchImpl = breakBodies(() => breaks++ < 3, 300, (init) => sent.push(new Headers(init?.headers).get('last-event-id')));
    const reader = new Pipet({ url: web.url, key, fetch: fetchImpl }).stream<Click>(name);
    const got: number[] = [];
    const writing = (async () => {
      for (let i = 1; i < 120; i++) await writer.push({ click: i });
    })();
    for await (const e of reader.tail({ from: 0 })) {
      expect(e.body.click).toBe(e.index);
      got.push(e.index);
      if (got.length === 120) break;
    }
    await writing;
    expect(got).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // Reconnections named the last event seen.
    expect(sent.filter((id) => id !== null).length).toBeGreaterThanOrEqual(3);
  });

  it('starts at the end by default and stops when its signal aborts', async () => {
    const name = `${team.slug}/live2`;
    const s = new Pipet({ url: web.url, key }).stream<Click>(name);
    await s.push({ click: -1 });
    const stop = new AbortController();
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of s.tail({ signal: stop.signal })) {
        got.push(e.body.click);
        if (got.length === 2) stop.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await s.push({ click: 1 });
    await s.push({ click: 2 });
    await reading;
    expect(got).toEqual([1, 2]);
  });
});

describe('state', () => {
  it('reads a reducer’s state after a push (read-your-writes), one key’s state, and watches it change', async () => {
    const pipet = new Pipet({ url: web.url, key });
    const clicks = pipet.stream<Click>(`${team.slug}/clicks`);
    for (let i = 0; i < 5; i++) {
      const { index } = await clicks.push({ click: i });
      expect(await clicks.state<number>('count', { after: index })).toBe(index + 1);
    }
    const steps = pipet.stream<Step>(`${team.slug}/steps`);
    await steps.push({ user: 'ada', step: 'signup' });
    const { index } = await steps.push({ user: 'ada', step: 'install' });
    expect(await steps.state('users', { key: 'ada', after: index })).toEqual({ steps: ['signup', 'install'] });
    await expect(steps.state('users', { key: 'grace' })).rejects.toMatchObject({ status: 404 });

    const stop = new AbortController();
    const seen: number[] = [];
    const watching = (async () => {
      for await (const change of clicks.watch<number>('count', { signal: stop.signal })) {
        seen.push(change.state);
        if (change.state >= 7) stop.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    await clicks.push({ click: 5 });
    await clicks.push({ click: 6 });
    await watching;
    expect(seen[0]).toBeGreaterThanOrEqual(5);
    expect(seen.at(-1)).toBe(7);
  });
});

describe('enqueue', () => {
  it('batches by size and time, retries 503s (Retry-After) and lost answers under one key, and close() flushes: each event once, in order', async () => {
    let refusals = 0;
    let lost = 0;
    const batches: number[] = [];
    const flaky: typeof fetch = async (input, init) => {
      if (String(input).endsWith('/batch')) {
        batches.push(JSON.parse(String(init?.body)).length);
        if (refusals++ < 2) return new Response('{"error":{"code":"unavailable","message":"busy"}}', { status: 503, headers: { 'retry-after': '1' } });
        const res = await fetch(input, init);
        // The answer is lost after the batch was stored: the retry must not append it again.
        if (lost++ % 3 === 0) throw new TypeError('fetch failed');
        return res;
      }
      return fetch(input, init);
    };
    const pipet = new Pipet({ url: web.url, key, fetch: flaky, batch: { maxEvents: 40, flushMs: 50 } });
    const s = pipet.stream<Click>(`${team.slug}/buffered`);
    const started = Date.now();
    for (let i = 0; i < 250; i++) s.enqueue({ click: i });
    await pipet.close();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
    expect(Math.max(...batches)).toBeLessThanOrEqual(40);
    const all = await stored<Click>(new Pipet({ url: web.url, key }), `${team.slug}/buffered`);
    expect(all.map((e) => e.click)).toEqual(Array.from({ length: 250 }, (_, i) => i));
    expect(() => s.enqueue({ click: 250 })).toThrow(/closed/);
  });

  it('sends a batch after flushMs without close(), and close() rejects when a batch is refused for good', async () => {
    const pipet = new Pipet({ url: web.url, key, batch: { flushMs: 100 } });
    const s = pipet.stream<Click>(`${team.slug}/timed`);
    s.enqueue({ click: 1 });
    await expect.poll(() => s.length().catch(() => 0), { timeout: 5000 }).toBe(1);
    const failures: string[] = [];
    const readOnly = new Pipet({ url: web.url, key: await team.key(['read']), onError: (e) => failures.push(e.code) });
    readOnly.stream(`${team.slug}/timed`).enqueue({ click: 2 });
    await expect(readOnly.close()).rejects.toMatchObject({ code: 'forbidden', status: 403 });
    expect(failures).toEqual(['forbidden']);
  });
});

describe('manage', () => {
  it('is the typed management API, and 25 calls in one tick are split into batches the server takes', async () => {
    const pipet = new Pipet({ url: web.url, key: await team.key(['manage']) });
    const created = await pipet.manage.stream.create.mutate({ team: team.slug, stream: 'made-by-client' });
    expect(created.slug).toBe('made-by-client');
    const lists = await Promise.all(Array.from({ length: 25 }, () => pipet.manage.stream.list.query({ team: team.slug })));
    expect(lists).toHaveLength(25);
    for (const list of lists) expect(list.map((s) => s.slug)).toContain('made-by-client');
    const refused = await new Pipet({ url: web.url, key }).manage.stream.list.query({ team: team.slug }).catch((e: unknown) => PipetError.from(e));
    expect(refused).toMatchObject({ code: 'forbidden', status: 403 });
  });
});

/**
 * A fetch whose response bodies break (as a dropped connection would) after `bytes`, while
 * `shouldBreak()` says so; `onCall` sees each request's init.
 */
function breakBodies(shouldBreak: () => boolean, bytes: number, onCall: (init?: RequestInit) => void = () => {}): typeof fetch {
  return async (input, init) => {
    onCall(init);
    const res = await fetch(input, init);
    if (!res.ok || !res.body || !shouldBreak()) return res;
    let passed = 0;
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await reader.read();
        if (done) return controller.close();
        passed += value.byteLength;
        controller.enqueue(value);
        if (passed >= bytes) {
          await reader.cancel();
          controller.error(new TypeError('terminated'));
        }
      },
      cancel: () => reader.cancel(),
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
}
