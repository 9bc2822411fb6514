// Stops that finish (issue 14): `pipet web` and `pipet worker` on SIGTERM end what is live, finish
// what is in flight, and exit within SHUTDOWN_TIMEOUT_MS; whatever is still open at the bound is cut.
import { afterAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { makeTeam, useOwnDatabase, makeStream } from '../helpers/context.ts';
import { exitWithin, startCli, type Running } from '../helpers/server.ts';
import { bearer, expectError, readSse } from '../helpers/http.ts';
import { effectFixture, insertEffect, startReceiver } from '../helpers/effects.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

const own = await useOwnDatabase('shutdown');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');

const DEFAULT_BOUND_MS = 10_000;
const running: Running[] = [];
afterAll(async () => {
  await Promise.all(running.map((r) => r.kill()));
});

async function startCliWeb(processes: number, extra: Record<string, string> = {}): Promise<Running> {
  const port = String(await freePort());
  const web = await startCli(['web'], { ...own.env, PORT: port, WEB_PROCESSES: String(processes), ...extra }, /Pipet web listening on/);
  running.push(web);
  return web;
}

function settled<T>(promise: Promise<T>): Promise<{ unwrap(): T }> {
  return promise.then(
    (value) => ({ unwrap: () => value }),
    (error: unknown) => ({
      unwrap: () => {
        throw error;
      },
    }),
  );
}

/** A POST whose body is sent in two parts: the request is in flight between `begin` and `finish`. */
function appendInTwoParts(url: string, key: string, body: object) {
  const text = JSON.stringify(body);
  const cut = Math.floor(text.length / 2);
  const req = request(url, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } });
  const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let out = '';
      res.on('data', (d) => (out += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: out }));
    });
    req.on('error', reject);
  });
  const connected = new Promise<void>((resolve) => req.on('socket', (socket) => (socket.connecting ? socket.once('connect', () => resolve()) : resolve())));
  req.flushHeaders();
  req.write(text.slice(0, cut));
  return { answer, connected, finish: () => req.end(text.slice(cut)) };
}

describe.each([1, 2])('SIGTERM on `pipet web` with WEB_PROCESSES=%i', (processes) => {
  it('ends SSE streams with a retry hint, answers long-polls 503 + Retry-After, finishes an append in flight, and exits within the bound', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const stream = await makeStream(db(), { teamId: team.id, slug: 'orders', name: 'orders' });
    await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
    const web = await startCliWeb(processes);
    const base = `${web.url}/s/${team.slug}/orders`;

    let sigterm = 0;
    const signal = () => {
      sigterm = Date.now();
      web.child.kill('SIGTERM');
    };
    // Warm the routes up, so that everything below is open and waiting when the signal arrives.
    await fetch(`${base}/5`, { headers: bearer(key) }).then((r) => r.text());
    await fetch(`${base}/state/count`, { headers: bearer(key) }).then((r) => r.text());
    // The append is in flight (headers and half its body received) when the signal arrives.
    const append = appendInTwoParts(base, key, { order: 1, note: 'sent across the shutdown' });
    let open = 0;
    const opened = async () => void open++;
    const events = settled(readSse(`${base}/events?from=0`, { headers: bearer(key), count: 100, onOpen: opened }));
    const states = settled(readSse(`${base}/state/count/events`, { headers: bearer(key), count: 100, onOpen: opened }));
    // Settled at once, read later: a rejection must not go unhandled meanwhile.
    const element = settled(fetch(`${base}/5?wait=30`, { headers: bearer(key) }));
    const folded = settled(fetch(`${base}/state/count?after=5`, { headers: bearer(key) }));
    while (open < 2) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500)); // the long-polls are waiting too
    signal();
    await new Promise((r) => setTimeout(r, 300));
    append.finish();

    const acked = await append.answer;
    expect(acked.status, acked.body).toBe(201);
    expect(JSON.parse(acked.body)).toEqual({ index: 0, length: 1 });
    for (const outcome of await Promise.all([element, folded])) {
      const res = outcome.unwrap();
      expect(res.headers.get('retry-after')).toBe('1');
      await expectError(res, 503, 'unavailable');
    }
    for (const outcome of await Promise.all([events, states])) {
      const sse = outcome.unwrap();
      expect(sse.res.status).toBe(200);
      expect(sse.comments.join('\n')).toMatch(/restarting/);
    }

    const exit = await exitWithin(web.child, DEFAULT_BOUND_MS);
    expect(exit, web.output()).not.toBeNull();
    expect(exit!.code, web.output()).toBe(0);
    // The registry ended the two streams and the two long-polls (spread over the processes).
    const ended = [...web.output().matchAll(/ended (\d+) live stream/g)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(ended, web.output()).toBe(4);
    console.log(`pipet web (WEB_PROCESSES=${processes}) exited ${Date.now() - sigterm} ms after SIGTERM (bound ${DEFAULT_BOUND_MS} ms)`);
    expect(await fetch(base).then(() => 'up', () => 'down')).toBe('down');
    const stored = await readEvents({ streamId: stream.id, start: 0, end: 10 });
    expect(stored.map((e) => JSON.parse(e.bodyJson))).toEqual([{ order: 1, note: 'sent across the shutdown' }]);
  }, 60_000);
});

describe('the bound', () => {
  it('cuts a request still open at SHUTDOWN_TIMEOUT_MS and stores nothing for it', async () => {
    const bound = 2_000;
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const web = await startCliWeb(1, { SHUTDOWN_TIMEOUT_MS: String(bound) });
    // Warm the route up first: on a loaded machine its first request can take longer than any fixed wait.
    await fetch(`${web.url}/s/${team.slug}/stuck/0`, { headers: bearer(key) }).then((r) => r.text());
    const append = appendInTwoParts(`${web.url}/s/${team.slug}/stuck`, key, { never: 'finished' });
    const outcome = append.answer.then((a) => `answered ${a.status}`, (e: Error) => `cut (${e.message})`);
    await append.connected;
    await new Promise((r) => setTimeout(r, 500));
    const sigterm = Date.now();
    web.child.kill('SIGTERM');
    // Exit comes at the bound, plus however long a loaded machine takes to deliver the signal and exit.
    const exit = await exitWithin(web.child, bound + 5_000);
    const elapsed = Date.now() - sigterm;
    console.log(`pipet web cut an unfinished request and exited ${elapsed} ms after SIGTERM (bound ${bound} ms)`);
    expect(exit, web.output()).toEqual({ code: 1, signal: null });
    expect(elapsed).toBeGreaterThanOrEqual(bound);
    expect(web.output()).toMatch(/bound of 2000 ms reached/);
    expect(await outcome).toMatch(/^cut/);
    expect(await db().event.count({ where: { stream: { teamId: team.id } } })).toBe(0);
  }, 30_000);
});

describe('SIGTERM on `pipet worker`', () => {
  it('exits within the bound while a webhook delivery hangs, leaving the effect pending for the next worker', async () => {
    const bound = 3_000;
    const f = await effectFixture(db());
    const receiver = await startReceiver(f.secret);
    let arrived = 0;
    receiver.on('/hang', () => void arrived++); // never answers
    try {
      const worker = await startCli(['worker'], { ...own.env, SHUTDOWN_TIMEOUT_MS: String(bound), WEBHOOK_TIMEOUT_MS: '60000', ALLOW_PRIVATE_WEBHOOKS: 'true' }, /Pipet worker running/);
      running.push(worker);
      const id = await insertEffect(db(), f, 'webhook', { url: `${receiver.url}/hang`, method: 'POST', headers: {}, body: {} });
      const deadline = Date.now() + 15_000;
      while (arrived === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(arrived, worker.output()).toBe(1);

      const sigterm = Date.now();
      worker.child.kill('SIGTERM');
      const exit = await exitWithin(worker.child, bound);
      expect(exit, worker.output()).not.toBeNull();
      console.log(`pipet worker exited ${Date.now() - sigterm} ms after SIGTERM with a delivery hanging (bound ${bound} ms)`);
      expect(worker.output()).toMatch(/left to the next worker/);
      const effect = await db().effect.findFirstOrThrow({ where: { id } });
      expect(effect.status).toBe('pending');
    } finally {
      await receiver.close();
    }
  }, 60_000);

  it('exits promptly when idle', async () => {
    const worker = await startCli(['worker'], { ...own.env }, /Pipet worker running/);
    running.push(worker);
    worker.child.kill('SIGTERM');
    const exit = await exitWithin(worker.child, DEFAULT_BOUND_MS);
    expect(exit, worker.output()).toEqual({ code: 0, signal: null });
  }, 60_000);
});
