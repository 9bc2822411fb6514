// Exactly-once on state under stress: three worker processes, twenty streams, tens of thousands of
// events; one worker SIGKILLed mid-batch and the run's Redis data deleted mid-run. Final states
// equal Array.prototype.reduce over the stored events — per key for a keyed reducer over many keys,
// whose history has exactly one change per event — and the outbox has one row per effect.
import { afterAll, expect, it } from 'vitest';
import { makeStream, makeTeam, useOwnDatabase } from '../helpers/context.ts';
import { startWorkerProcess, type Running } from '../helpers/server.ts';
import { deleteRedisPrefix } from '../helpers/services.ts';

const own = await useOwnDatabase('chaos');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

const STREAMS = 20;
const PER_STREAM = 1500;
const BATCH = 100;
const KEYS = 97;
const workerEnv = { ...own.env, SWEEP_INTERVAL_MS: '500', SANDBOX_THREADS: '1' };
const workers: Running[] = [];
afterAll(async () => void (await Promise.all(workers.map((w) => w.stop()))));

it('folds every event exactly once despite a killed worker and lost queues', { timeout: 240_000 }, async () => {
  const team = await makeTeam(db());
  const streams = [];
  for (let s = 0; s < STREAMS; s++) {
    const stream = await makeStream(db(), { teamId: team.id, slug: `s${s}`, name: `s${s}` });
    await upsertReducer({ streamId: stream.id, name: 'stats', code: '(s, e) => ({ n: s.n + 1, sum: s.sum + e.v, last: e.v })', initialState: { n: 0, sum: 0, last: null } });
    await upsertReducer({
      streamId: stream.id,
      name: 'users',
      code: '(s, e, i, stream) => { if (e.v % 61 === 0) email({ to: "ops@example.com", subject: stream.key + " " + e.v }); return { n: s.n + 1, sum: s.sum + e.v }; }',
      keyBy: `(e) => 'u' + (e.v % ${KEYS})`,
      initialState: { n: 0, sum: 0 },
    });
    await upsertReducer({ streamId: stream.id, name: 'mailer', code: '(s, e, i) => { if (e.v % 50 === 0) email({ to: "ops@example.com", subject: "v" + e.v }); return s + 1; }', initialState: 0 });
    streams.push(stream);
  }
  for (let w = 0; w < 3; w++) workers.push(startWorkerProcess(workerEnv));

  for (let round = 0; round < PER_STREAM / BATCH; round++) {
    await Promise.all(
      streams.map((stream, s) => appendEvents({ streamId: stream.id, bodies: Array.from({ length: BATCH }, (_, k) => ({ v: round * BATCH + k, s })) })),
    );
    if (round === 4) await workers[0].kill('SIGKILL'); // mid-batch, most likely
    if (round === 9) {
      await deleteRedisPrefix(own.redisUrl, own.prefix); // queues, dedup keys: all gone
      workers.push(startWorkerProcess(workerEnv));
    }
  }

  const deadline = Date.now() + 180_000;
  for (;;) {
    const behind = await db().reducerState.count({ where: { cursor: { lt: PER_STREAM } } });
    if (behind === 0) break;
    if (Date.now() > deadline) throw new Error(`${behind} reducers still behind:\n${workers.map((w) => w.output().slice(-2000)).join('\n')}`);
    await new Promise((r) => setTimeout(r, 500));
  }

  let expectedEffects = 0;
  for (const stream of streams) {
    const stored = (await readEvents({ streamId: stream.id, start: 0, end: PER_STREAM })).map((e) => JSON.parse(e.bodyJson));
    expect(stored).toHaveLength(PER_STREAM);
    const reference = stored.reduce((s, e) => ({ n: s.n + 1, sum: s.sum + e.v, last: e.v }), { n: 0, sum: 0, last: null });
    const states = await db().reducerState.findMany({ where: { reducer: { streamId: stream.id } }, include: { reducer: true } });
    expect(states.find((r) => r.reducer.name === 'stats')!.state).toEqual(reference);
    expect(states.find((r) => r.reducer.name === 'mailer')!.state).toBe(PER_STREAM);
    expectedEffects += stored.filter((e) => e.v % 50 === 0).length;
    // The keyed reducer: a per-key reduce, every key counted once, one change per event.
    const perKey = new Map<string, { n: number; sum: number }>();
    for (const e of stored) {
      const k = `u${e.v % KEYS}`;
      const was = perKey.get(k) ?? { n: 0, sum: 0 };
      perKey.set(k, { n: was.n + 1, sum: was.sum + e.v });
    }
    const users = states.find((r) => r.reducer.name === 'users')!;
    expect(users.keyCount).toBe(KEYS);
    const rows = await db().keyedState.findMany({ where: { streamId: stream.id, reducerId: users.reducerId, lineage: users.lineage } });
    expect(new Map(rows.map((r) => [r.key, r.state]))).toEqual(perKey);
    expect(await db().keyedChange.count({ where: { streamId: stream.id, reducerId: users.reducerId } })).toBe(PER_STREAM);
    expectedEffects += stored.filter((e) => e.v % 61 === 0).length;
  }
  const effects = await db().effect.findMany({ where: { teamId: team.id }, select: { id: true, reducerId: true, eventIndex: true, ordinal: true } });
  expect(effects).toHaveLength(expectedEffects);
  expect(new Set(effects.map((e) => `${e.reducerId}:${e.eventIndex}:${e.ordinal}`)).size).toBe(expectedEffects);
});
