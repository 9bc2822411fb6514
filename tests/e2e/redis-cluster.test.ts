// Pipet on a Redis Cluster (issue 13): a 3-master, 3-replica cluster on loopback, two web and two
// worker processes on a database of this file's own. First the whole flow (append → fold → webhook
// → email, live tails, cache invalidation); then chaos: clients append to many streams while a
// worker is SIGKILLed and a master is killed so that its replica is promoted. Nothing acknowledged
// is lost, nothing is folded twice, every effect exists once and is delivered, tails keep working.
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { makeTeam, useOwnDatabase, type TeamFixture, makeStream } from '../helpers/context.ts';
import { exitWithin, startWeb, startWorkerProcess, waitForOutput, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';
import { tailSse, type SseTail } from '../helpers/sse.ts';
import { startReceiver } from '../helpers/effects.ts';
import { startRedisCluster } from '../helpers/redis-cluster.ts';
import { deleteRedisPrefix } from '../helpers/services.ts';

delete process.env.SMTP_URL; // emails go to the team's outbox
const cluster = await startRedisCluster();
const own = await useOwnDatabase('rcluster');
// This file's own lib/server calls (upsertReducer's wake-up, the subscription below) use the cluster too.
Object.assign(process.env, { REDIS_URL: cluster.url() });
const { resetEnv } = await import('../../src/lib/server/env.ts');
resetEnv();
const { db } = await import('../../src/lib/server/db/client.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { queuePrefix, queueShards } = await import('../../src/lib/server/queue/enqueue.ts');
const { channelFor, subscribe } = await import('../../src/lib/server/notify.ts');
const { closeAll } = await import('../../src/lib/server/shutdown.ts');

const env = {
  ...own.env,
  REDIS_URL: cluster.url(),
  ALLOW_PRIVATE_WEBHOOKS: 'true',
  SWEEP_INTERVAL_MS: '1000',
  SHUTDOWN_TIMEOUT_MS: '5000',
  SANDBOX_THREADS: '1',
  // A starved machine (two cores, six Redis nodes, four Pipet processes) must not trip the sandbox's
  // wall-clock watchdog, which would stop a reducer with an error: not what this file tests.
  SANDBOX_CALL_WALL_MS: '10000',
  KEY_RATE_LIMIT_PER_MINUTE: '1000000',
  EMAIL_QUOTA_PER_DAY: '100000',
};
const running: Running[] = [];
const tails: SseTail[] = [];
const receiver = { current: undefined as Awaited<ReturnType<typeof startReceiver>> | undefined };
afterAll(async () => {
  await Promise.all(tails.map((t) => t.close()));
  await Promise.all(running.map((r) => r.stop()));
  await receiver.current?.close();
  await closeAll();
  await cluster.stop();
});

const [webA, webB] = await Promise.all([startWeb(env), startWeb(env)]);
running.push(webA, webB);

async function startWorker(): Promise<Running> {
  const worker = startWorkerProcess(env);
  running.push(worker);
  await waitForOutput(worker, /Pipet worker running/);
  return worker;
}
const workers = [await startWorker(), await startWorker()];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      const logs = running.map((r) => r.output().slice(-1_500)).join('\n---\n');
      throw new Error(`Timed out waiting until ${what}; last: ${JSON.stringify(value).slice(0, 500)}\n${logs}`);
    }
    await sleep(250);
  }
}

type Ctx = { team: TeamFixture; key: string; manage: string; secret: string };
async function teamWithKeys(): Promise<Ctx> {
  const team = await makeTeam(db());
  const { signingSecret } = await db().team.findUniqueOrThrow({ where: { id: team.id } });
  return { team, key: await team.key(['ingest', 'read']), manage: await team.key(['manage']), secret: signingSecret };
}

async function createStream(ctx: Ctx, slug: string, reducers: Record<string, { code: string; initialState: unknown }>) {
  const stream = await makeStream(db(), { teamId: ctx.team.id, slug, name: slug });
  const ids: Record<string, string> = {};
  for (const [name, r] of Object.entries(reducers)) ids[name] = (await upsertReducer({ streamId: stream.id, name, ...r })).reducer.id;
  return { ...stream, reducerIds: ids };
}

/** Every master this run's keys live on, and how many keys (deleteRedisPrefix's patterns). */
async function keysByMaster(): Promise<Map<number, number>> {
  const byMaster = new Map<number, number>();
  for (const node of cluster.seeds()) {
    const r = new Redis({ host: node.host, port: node.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      if (!/role:master/.test(await r.info('replication'))) continue;
      let n = 0;
      for (const pattern of [`{${own.prefix}}*`, `{${own.prefix}/*`, `${own.prefix}:*`]) n += (await r.keys(pattern)).length;
      byMaster.set(node.port, n);
    } finally {
      r.disconnect();
    }
  }
  return byMaster;
}

describe('Pipet on a Redis Cluster (3 masters, 3 replicas; 2 web and 2 worker processes)', () => {
  it('spreads the shard queues over every master', async () => {
    expect(queueShards()).toBe(6);
    const masters = await Promise.all(Array.from({ length: 6 }, async (_, i) => (await cluster.owners(queuePrefix(i))).master.port));
    expect(new Set(masters).size).toBe(3);
    for (const port of new Set(masters)) expect(masters.filter((p) => p === port)).toHaveLength(2);
  });

  it('appends, folds, calls a webhook, stores an email, tails live, and invalidates cached keys', { timeout: 60_000 }, async () => {
    const ctx = await teamWithKeys();
    const hooks = (receiver.current = await startReceiver(ctx.secret));
    const code = `(n, e, i) => { request(${JSON.stringify(`${hooks.url}/flow`)}, { body: { i, e } }); email({ to: 'ops@example.com', subject: 'event ' + i, text: JSON.stringify(e) }); return n + 1; }`;
    await createStream(ctx, 'flow', { notify: { code, initialState: 0 } });
    const base = (web: Running) => `${web.url}/s/${ctx.team.slug}/flow`;
    const events = tailSse(`${base(webB)}/events?from=0`, { headers: bearer(ctx.key) });
    const states = tailSse(`${base(webB)}/state/notify/events`, { headers: bearer(ctx.key) });
    tails.push(events, states);

    for (let i = 0; i < 3; i++) expect((await postJson(base(webA), { step: i }, bearer(ctx.key))).status).toBe(201);
    const state = await fetch(`${base(webB)}/state/notify?after=2`, { headers: bearer(ctx.key) });
    expect(state.status).toBe(200);
    expect(await state.json()).toBe(3);
    expect(state.headers.get('pipet-folded')).toBe('3');

    await events.waitFor((e) => e.length === 3, 10_000);
    expect(events.events.map((e) => e.id)).toEqual(['0', '1', '2']);
    expect(events.events.map((e) => JSON.parse(e.data).body)).toEqual([{ step: 0 }, { step: 1 }, { step: 2 }]);
    await states.waitFor((e) => e.some((s) => JSON.parse(s.data).folded === 3), 10_000);

    const effects = await eventually('six effects delivered', 30_000, () => db().effect.findMany({ where: { teamId: ctx.team.id } }), (rows) => rows.length === 6 && rows.every((r) => r.status === 'delivered'));
    expect(effects.filter((e) => e.kind === 'webhook')).toHaveLength(3);
    const calls = hooks.at('/flow');
    expect(calls.every((c) => c.verified)).toBe(true);
    expect(new Set(calls.map((c) => c.headers['webhook-id']))).toEqual(new Set(effects.filter((e) => e.kind === 'webhook').map((e) => e.id)));
    const emails = await db().emailMessage.findMany({ where: { teamId: ctx.team.id } });
    expect(emails.map((m) => m.subject).sort()).toEqual(['event 0', 'event 1', 'event 2']);

    // The key is cached on B (it cached nothing while its invalidation channel was down); a revoke
    // through A is broadcast over sharded pub/sub and acknowledged before it returns.
    await revokeAcrossProcesses(ctx, 'flow');
  });

  it('loses nothing and folds nothing twice while a worker is SIGKILLed and a master fails over', { timeout: 240_000 }, async () => {
    const ctx = await teamWithKeys();
    const hooks = receiver.current!;
    const STREAMS = 24;
    const CLIENTS = 6;
    const stats = { code: '(s, e) => ({ n: s.n + 1, sum: s.sum + e.v, last: e.v })', initialState: { n: 0, sum: 0, last: null } };
    const effectful = {
      code: `(n, e) => { if (e.v % 10 === 0) request(${JSON.stringify(`${hooks.url}/chaos`)}, { body: { s: e.s, v: e.v } }); if (e.v % 25 === 0) email({ to: 'ops@example.com', subject: 'v' + e.v, text: 's' + e.s }); return n + 1; }`,
      initialState: 0,
    };
    const streams: Awaited<ReturnType<typeof createStream>>[] = [];
    for (let s = 0; s < STREAMS; s++) streams.push(await createStream(ctx, `c${s}`, { stats, effectful }));

    // The master to kill: the one carrying the cache-invalidation channel (so the revoke at the end
    // crosses the failover), which also serves two fold, deliver and timers shards.
    const victimChannel = channelFor('invalidate', 'auth');
    const victim = (await cluster.owners(victimChannel)).master;
    const onVictim = async (channel: string) => (await cluster.owners(channel)).master.port === victim.port;
    const first = async (test: (s: (typeof streams)[number]) => Promise<boolean>) => {
      for (const s of streams) if (await test(s)) return s;
      return streams[0];
    };
    // Tails whose wake-up channels are on the master that dies, and one that is not.
    const tailed = [await first((s) => onVictim(channelFor('appended', s.id))), await first(async (s) => !(await onVictim(channelFor('appended', s.id))))];
    const stateTailed = await first((s) => onVictim(channelFor('folded', s.reducerIds.stats)));
    const url = (web: Running, slug: string) => `${web.url}/s/${ctx.team.slug}/${slug}`;
    const eventTails = tailed.map((s) => tailSse(`${url(webB, s.slug)}/events?from=0`, { headers: bearer(ctx.key) }));
    const stateTail = tailSse(`${url(webB, stateTailed.slug)}/state/stats/events`, { headers: bearer(ctx.key) });
    tails.push(...eventTails, stateTail);
    // This process's own sharded subscription, made before the failover, must hear appends after it.
    const heard: string[] = [];
    const unsubscribe = subscribe(channelFor('appended', tailed[0].id), (m) => heard.push(m));

    const acked = new Map<string, { index: number; v: number }[]>(streams.map((s) => [s.slug, []]));
    const statuses = new Map<number | string, number>();
    let total = 0;
    let maxLatency = 0;
    let v = 0;
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const stream = streams[(c * 7 + i) % STREAMS];
        const web = i % 2 ? webA : webB;
        const body = { s: stream.slug, v: v++, c };
        const started = Date.now();
        try {
          const res = await postJson(url(web, stream.slug), body, bearer(ctx.key));
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          if (res.status === 201) {
            acked.get(stream.slug)!.push({ index: (await res.json()).index, v: body.v });
            total++;
          } else await res.body?.cancel();
        } catch (error) {
          const reason = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
          statuses.set(reason, (statuses.get(reason) ?? 0) + 1);
        }
        maxLatency = Math.max(maxLatency, Date.now() - started);
      }
    };
    const until = async (n: number) => {
      while (total < n) await sleep(20);
    };
    const started = Date.now();
    const clients = Array.from({ length: CLIENTS }, (_, c) => client(c));

    await until(800);
    await workers[0].kill('SIGKILL'); // most likely mid-fold
    workers.push(await startWorker()); // its replacement, as an orchestrator would

    await until(1_600);
    await cluster.waitForReplication().catch(() => {}); // not required: the sweep repairs what replication missed
    const atKill = total;
    const { killed, promoted, failoverMs } = await cluster.killMaster(victimChannel, 30_000);
    const afterFailover = total;

    // Right after a failover Worker.close() can hang (see docs/scaling-redis-cluster.md): a
    // SIGTERMed worker must still exit at its bound (5 s; a supervisor would SIGKILL it a second
    // later), give or take a loaded machine's scheduling.
    const stopping = workers[1];
    const termAt = Date.now();
    stopping.child.kill('SIGTERM');
    const exit = await exitWithin(stopping.child, 5_000 + 1_000 + 2_000);
    const stopMs = Date.now() - termAt;
    expect(exit, `worker did not exit within its bound:\n${stopping.output().slice(-2_000)}`).not.toBeNull();
    workers.push(await startWorker());

    await until(Math.max(3_000, afterFailover + 800));
    stop = true;
    await Promise.all(clients);
    const appendsDone = Date.now();
    // Appends never wait on Redis: no request failed while the cluster failed over.
    const errors = [...statuses].filter(([s]) => s !== 201);
    expect(errors).toEqual([]);

    // Wake-ups after the failover reach a subscriber made before it (ioredis resubscribed by itself).
    const lengthBefore = acked.get(tailed[0].slug)!.length;
    await eventually('an append after the failover is heard on its shard', 20_000, async () => {
      const res = await postJson(url(webA, tailed[0].slug), { s: tailed[0].slug, v: v++, c: -1 }, bearer(ctx.key));
      if (res.status === 201) {
        acked.get(tailed[0].slug)!.push({ index: (await res.json()).index, v: v - 1 });
        total++;
      }
      await sleep(300);
      return heard.filter((m) => Number(m) > lengthBefore).length;
    }, (n) => n > 0);
    unsubscribe();

    // Catching up: every reducer at its stream's end, every effect delivered.
    const lengths = await db().stream.findMany({ where: { teamId: ctx.team.id } });
    await eventually(
      'every reducer caught up',
      150_000,
      async () => {
        const states = await db().reducerState.findMany({ where: { reducer: { stream: { teamId: ctx.team.id } } }, include: { reducer: { include: { stream: true } } } });
        return states.filter((s) => s.cursor < s.reducer.stream.length).length;
      },
      (behind) => behind === 0,
    );
    const foldedAt = Date.now();
    let expectedEffects = 0;
    const expectedWebhooks = new Set<string>();
    for (const stream of streams) {
      const length = lengths.find((l) => l.id === stream.id)!.length;
      const stored = (await readEvents({ streamId: stream.id, start: 0, end: length })).map((e) => ({ index: e.index, body: JSON.parse(e.bodyJson) }));
      expect(stored.map((e) => e.index)).toEqual(Array.from({ length }, (_, i) => i));
      // 0 acknowledged events lost: each acknowledged index holds what was sent, and nothing else is there.
      const byIndex = new Map(stored.map((e) => [e.index, e.body.v]));
      for (const a of acked.get(stream.slug)!) expect(byIndex.get(a.index)).toBe(a.v);
      expect(length).toBe(acked.get(stream.slug)!.length);
      // 0 double folds: the state is Array.prototype.reduce over the stored events.
      const bodies = stored.map((e) => e.body);
      const states = await db().reducerState.findMany({ where: { reducer: { streamId: stream.id } }, include: { reducer: true } });
      expect(states.find((r) => r.reducer.name === 'stats')!.state).toEqual(bodies.reduce((s, e) => ({ n: s.n + 1, sum: s.sum + e.v, last: e.v }), stats.initialState));
      expect(states.find((r) => r.reducer.name === 'effectful')!.state).toBe(length);
      expectedEffects += bodies.filter((e) => e.v % 10 === 0).length + bodies.filter((e) => e.v % 25 === 0).length;
    }
    // 0 lost effects: exactly one row per expected effect, and all of them delivered.
    const chaosStreamIds = streams.map((s) => s.id);
    const effects = await eventually(
      'every effect delivered',
      90_000,
      () => db().effect.findMany({ where: { streamId: { in: chaosStreamIds } }, select: { id: true, kind: true, status: true, reducerId: true, eventIndex: true, ordinal: true } }),
      (rows) => rows.length >= expectedEffects && rows.every((r) => r.status === 'delivered'),
    );
    const deliveredAt = Date.now();
    expect(effects).toHaveLength(expectedEffects);
    expect(new Set(effects.map((e) => `${e.reducerId}:${e.eventIndex}:${e.ordinal}`)).size).toBe(expectedEffects);
    for (const e of effects) if (e.kind === 'webhook') expectedWebhooks.add(e.id);
    const calls = hooks.at('/chaos');
    const received = new Set(calls.map((c) => String(c.headers['webhook-id'])));
    for (const id of expectedWebhooks) expect(received.has(id)).toBe(true);
    const emails = await db().emailMessage.count({ where: { effectId: { in: effects.filter((e) => e.kind === 'email').map((e) => e.id) } } });
    expect(emails).toBe(effects.filter((e) => e.kind === 'email').length);

    // Live tails on B kept going through the failover: every event, in order, none twice.
    for (const [i, tail] of eventTails.entries()) {
      const length = acked.get(tailed[i].slug)!.length;
      await tail.waitFor((e) => e.length >= length, 15_000);
      expect(tail.events.map((e) => Number(e.id))).toEqual(Array.from({ length }, (_, k) => k));
    }
    const reference = acked.get(stateTailed.slug)!.length;
    await stateTail.waitFor((e) => e.some((s) => JSON.parse(s.data).folded === reference), 15_000);
    // How soon B's tail hears an append made through A now (pub/sub; each waiter also polls PostgreSQL every 5 s).
    const wakeMs: number[] = [];
    for (let k = 0; k < 5; k++) {
      const tail = eventTails[0];
      const before = tail.events.length;
      const sent = Date.now();
      expect((await postJson(url(webA, tailed[0].slug), { s: tailed[0].slug, v: -1, c: -2 }, bearer(ctx.key))).status).toBe(201);
      await tail.waitFor((e) => e.length > before, 10_000);
      wakeMs.push(Date.now() - sent);
    }

    // Cached keys are still invalidated across processes after the failover of the channel's master.
    await revokeAcrossProcesses(ctx, 'c0');

    console.info(
      [
        `[redis cluster] ${total} events acknowledged over ${STREAMS} streams by ${CLIENTS} clients through 2 web processes in ${((appendsDone - started) / 1000).toFixed(1)} s; other answers: ${JSON.stringify(Object.fromEntries(errors))}; slowest append ${maxLatency} ms`,
        `[redis cluster] a worker SIGKILLed at 800+ events; master ${killed.port} killed at ${atKill} events, replica ${promoted.port} promoted in ${failoverMs} ms (${afterFailover - atKill} appends acknowledged meanwhile); a worker SIGTERMed right after exited in ${stopMs} ms (code ${exit?.code}; bound ${env.SHUTDOWN_TIMEOUT_MS} ms)`,
        `[redis cluster] caught up ${((foldedAt - appendsDone) / 1000).toFixed(1)} s after the last append (folds), ${((deliveredAt - appendsDone) / 1000).toFixed(1)} s (all ${effects.length} effects delivered: ${expectedWebhooks.size} webhooks received ${calls.length} times, ${emails} emails in the outbox)`,
        `[redis cluster] 0 acknowledged events lost, 0 double folds (${STREAMS * 2} reducers equal Array.prototype.reduce), 0 lost effects; tail wake-up through A → B after the failover: ${wakeMs.join(', ')} ms`,
      ].join('\n'),
    );
  });

  it("deletes the run's keys from every master (deleteRedisPrefix)", async () => {
    await Promise.all(tails.map((t) => t.close()));
    await Promise.all(running.map((r) => r.stop()));
    running.length = 0;
    await closeAll();
    expect([...(await keysByMaster()).values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    await deleteRedisPrefix(cluster.url(), own.prefix);
    expect([...(await keysByMaster()).values()]).toEqual([0, 0, 0]);
  });
});

/** Caches a key on web B, revokes it through web A, and expects B to refuse it at once. */
async function revokeAcrossProcesses(ctx: Ctx, slug: string): Promise<void> {
  const key = await ctx.team.key(['ingest']);
  const onB = () => postJson(`${webB.url}/s/${ctx.team.slug}/${slug}`, { s: slug, v: -1, c: -3 }, bearer(key));
  for (let i = 0; i < 5; i++) {
    expect((await onB()).status).toBe(201);
    await sleep(100);
  }
  const row = await db().apiKey.findFirstOrThrow({ where: { teamId: ctx.team.id, prefix: key.split('_')[1] } });
  const revoked = await postJson(`${webA.url}/api/trpc/apiKey.revoke`, { json: { team: ctx.team.slug, id: row.id } }, bearer(ctx.manage));
  expect(revoked.status).toBe(200);
  await expectError(await onB(), 401, 'unauthorized');
}
