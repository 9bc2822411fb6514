// Faults among the parts, with real processes: Redis down at start-up or killed mid-load, and
// PostgreSQL cut off mid-run. Expected every time: appends answer honestly (201 only once stored,
// else 503), nothing acknowledged is lost, folds and effects catch up once the part is back.
import { afterEach, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, makeStream } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';
import { redisOn, tcpProxy } from '../helpers/faults.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

const own = await useOwnDatabase('faults');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function started(run: Running): Running {
  cleanups.push(() => run.stop());
  return run;
}

const ms = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: Math.round(s[Math.floor(s.length / 2)]), max: Math.round(s[s.length - 1]) };
};

async function streamWithReducers(teamId: string, slug: string) {
  const stream = await makeStream(db(), { teamId, slug, name: slug });
  await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
  await upsertReducer({ streamId: stream.id, name: 'mailer', code: '(n, e, i) => { if (i % 10 === 0) email({ to: "ops@example.com", subject: "event " + i }); return n + 1 }', initialState: 0 });
  return stream;
}

/** Every element stored once, in order, and both reducers caught up; every effect delivered. */
async function expectCaughtUp(url: string, key: string, streamId: string, acked: Map<number, string>) {
  const stream = await db().stream.findUniqueOrThrow({ where: { id: streamId } });
  const events = await db().event.findMany({ where: { streamId }, orderBy: { index: 'asc' } });
  expect(events.map((e) => e.index)).toEqual(Array.from({ length: stream.length }, (_, i) => i));
  for (const [index, id] of acked) expect((events[index].body as { id: string }).id).toBe(id);
  const last = stream.length - 1;
  for (const reducer of ['count', 'mailer']) {
    const res = await fetch(`${url}/state/${reducer}?after=${last}`, { headers: bearer(key) });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toBe(stream.length);
  }
  const expected = Math.ceil(stream.length / 10);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const effects = await db().effect.findMany({ where: { streamId }, select: { status: true, eventIndex: true } });
    if (effects.length === expected && effects.every((e) => e.status === 'delivered')) break;
    if (Date.now() > deadline) throw new Error(`effects: ${effects.length} of ${expected}, ${effects.filter((e) => e.status === 'delivered').length} delivered`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('Redis', () => {
  it('down at start-up: appends answer 201 at once, and every reducer catches up when it comes', async () => {
    const redis = redisOn(await freePort());
    cleanups.push(() => redis.kill());
    const env = { ...own.env, REDIS_URL: redis.url, SWEEP_INTERVAL_MS: '300' };
    const web = started(await startWeb(env));
    started(startWorkerProcess(env));
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const stream = await streamWithReducers(team.id, 'orders');
    const url = `${web.url}/s/${team.slug}/orders`;

    const acked = new Map<number, string>();
    const durations: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      const res = await postJson(url, { id: `e${i}` }, bearer(key));
      durations.push(performance.now() - t);
      expect(res.status).toBe(201);
      acked.set((await res.json()).index, `e${i}`);
    }
    console.log(`Redis down: 40 appends answered 201, p50 ${ms(durations).p50} ms, max ${ms(durations).max} ms`);

    await redis.start();
    await expectCaughtUp(url, key, stream.id, acked);
  });

  it('killed and restarted mid-load: appends keep answering 201, folds and effects catch up', async () => {
    const redis = redisOn(await freePort());
    cleanups.push(() => redis.kill());
    await redis.start();
    const env = { ...own.env, REDIS_URL: redis.url, SWEEP_INTERVAL_MS: '300' };
    const web = started(await startWeb(env));
    started(startWorkerProcess(env));
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const stream = await streamWithReducers(team.id, 'load');
    const url = `${web.url}/s/${team.slug}/load`;

    const acked = new Map<number, string>();
    const statuses = new Map<number, number>();
    let phase = 'up';
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const res = await postJson(url, { id: `${c}-${i}` }, bearer(key));
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        if (res.status === 201) acked.set((await res.json()).index, `${c}-${i}`);
        else throw new Error(`${res.status} while Redis was ${phase}: ${await res.text()}`);
      }
    };
    const clients = Array.from({ length: 4 }, (_, c) => client(c));
    const waitFor = async (n: number) => {
      while (acked.size < n) await new Promise((r) => setTimeout(r, 20));
    };
    await waitFor(60);
    await redis.kill();
    phase = 'down';
    const before = acked.size;
    await waitFor(before + 60);
    await redis.start();
    phase = 'back';
    await waitFor(acked.size + 60);
    stop = true;
    await Promise.all(clients);
    console.log(`Redis killed mid-load: ${acked.size} appends acknowledged (${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')})`);
    await expectCaughtUp(url, key, stream.id, acked);
  });
});

describe('PostgreSQL cut off mid-run', () => {
  it('answers 503 with Retry-After and stores nothing half-way, then recovers without a restart', async () => {
    const target = new URL(own.databaseUrl);
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    cleanups.push(() => proxy.close());
    const via = new URL(own.databaseUrl);
    via.port = String(proxy.port);
    const web = started(await startWeb({ ...own.env, DATABASE_URL: via.toString() }));
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const url = `${web.url}/s/${team.slug}/ledger`;
    expect((await postJson(url, { n: 0 }, bearer(key))).status).toBe(201);

    await proxy.cut();
    for (const res of [await postJson(url, { n: 1 }, bearer(key)), await postJson(`${url}/batch`, [{ n: 1 }, { n: 2 }], bearer(key))]) {
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await expectError(res, 503, 'unavailable');
    }
    await expectError(await fetch(`${url}/0`, { headers: bearer(key) }), 503, 'unavailable');

    await proxy.restore();
    let res = await postJson(`${url}/batch`, [{ n: 1 }, { n: 2 }], bearer(key));
    for (let i = 0; res.status === 503 && i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await postJson(`${url}/batch`, [{ n: 1 }, { n: 2 }], bearer(key));
    }
    expect(await res.json()).toEqual({ first: 1, count: 2, length: 3 });
    const stored = await db().event.findMany({ where: { stream: { teamId: team.id, slug: 'ledger' } }, orderBy: { index: 'asc' } });
    expect(stored.map((e) => e.body)).toEqual([{ n: 0 }, { n: 1 }, { n: 2 }]);
  });
});
