// Streams of 10³ and 10⁶ events, loaded straight into the "Event" table with generate_series (the
// append path is measured elsewhere), then:
// - catch-up: a new reducer on the 10⁶-event stream, from its creation until `GET state?after=`
//   the last index answers (the worker reads, folds and commits the whole history);
// - one more event: its fold (foldStream, the worker's own function, run here) on each stream, so the
//   per-event cost can be compared across sizes — against `SELECT count(*)` over the stream's events
//   and reading the reducer's state, which answer the same kind of question.
// The fold-cost appends are made in SQL without waking the queue, so the worker does not fold them;
// a sample where the worker's sweep got there first (folded ≠ 1) is discarded and counted.
import type { Db } from '../../src/lib/server/db/client.ts';
import { Client, percentile, sleep } from './client.ts';

export const FOOS = "(n, e) => e.type === 'foo' ? n + 1 : n";

export type BigStreamFigures = {
  /** CPU per event of the catch-up: the worker (its sandbox threads included) and PostgreSQL, µs. */
  catchupCpuUs: { worker: number; postgres: number };
  insertS: Record<number, number>;
  catchupEventsPerS: number;
  catchupS: number;
  foldMs: Record<number, number>;
  foldSamples: Record<number, number>;
  discarded: number;
  countMs: Record<number, number>;
  readStateMs: Record<number, number>;
  readStateHttpMs: Record<number, number>;
  /** GET state?at=i (time travel) for an i chosen at random among the stream's events, median ms. */
  atMs: Record<number, number>;
};

async function loadStream(db: Db, teamId: string, slug: string, size: number): Promise<{ id: string; seconds: number }> {
  const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
  const stream = await ensureStream({ teamId, slug, select: { id: true }, db });
  const t0 = performance.now();
  await db.$executeRaw`
    INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
    SELECT ${stream.id}::uuid, g, jsonb_build_object('type', CASE WHEN g % 10 = 0 THEN 'foo' ELSE 'bar' END, 'n', g), now()
    FROM generate_series(0, ${size - 1}) AS g`;
  await db.$executeRaw`UPDATE "Stream" SET length = ${size}, "lastEventAt" = now() WHERE id = ${stream.id}::uuid`;
  return { id: stream.id, seconds: (performance.now() - t0) / 1000 };
}

/** Waits (long-polling, as a client would) until the reducer has folded index `last`. */
async function caughtUp(client: Client, statePath: string, last: number, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await client.request('GET', `${statePath}?after=${last}`);
    if (r.status === 200 && Number(r.headers['pipet-folded']) > last) return;
    if (r.status !== 503 || Date.now() > deadline) throw new Error(`catch-up: ${r.status} ${r.body.slice(0, 200)}`);
  }
}

async function appendWithoutWake(db: Db, streamId: string): Promise<void> {
  // appendEvents' statement, minus the fold wake-up.
  await db.$executeRaw`
    WITH bumped AS (UPDATE "Stream" SET length = length + 1, "lastEventAt" = now() WHERE id = ${streamId}::uuid RETURNING length, "lastEventAt" AS at)
    INSERT INTO "Event" ("streamId", "index", body, "receivedAt") SELECT ${streamId}::uuid, b.length - 1, '{"type":"foo"}'::jsonb, b.at FROM bumped b`;
}

export async function benchBigStreams({ db, teamId, client, teamSlug, sizes = [1_000, 1_000_000], runs = 30, log, cpuNow }: { db: Db; teamId: string; client: Client; teamSlug: string; sizes?: number[]; runs?: number; log: (s: string) => void; /** CPU used so far by the worker and PostgreSQL, ms. */ cpuNow: () => { worker: number; postgres: number } }): Promise<BigStreamFigures> {
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
  const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
  const big = Math.max(...sizes);
  const streams: Record<number, { id: string; statePath: string }> = {};
  const insertS: Record<number, number> = {};
  for (const size of sizes) {
    const slug = `log-${size}`;
    const { id, seconds } = await loadStream(db, teamId, slug, size);
    insertS[size] = seconds;
    streams[size] = { id, statePath: `/s/${teamSlug}/${slug}/state/foos` };
    log(`loaded ${size.toLocaleString('en-US')} events in ${seconds.toFixed(1)} s`);
  }
  await db.$executeRaw`ANALYZE "Event"`;

  // Catch-up on the biggest stream, through the running worker, end to end.
  let t0 = performance.now();
  const cpuAt = cpuNow();
  await upsertReducer({ streamId: streams[big].id, name: 'foos', code: FOOS, initialState: 0, db });
  await caughtUp(client, streams[big].statePath, big - 1);
  const catchupS = (performance.now() - t0) / 1000;
  const cpuAfter = cpuNow();
  const catchupCpuUs = { worker: ((cpuAfter.worker - cpuAt.worker) * 1000) / big, postgres: ((cpuAfter.postgres - cpuAt.postgres) * 1000) / big };
  for (const size of sizes.filter((s) => s !== big)) {
    await upsertReducer({ streamId: streams[size].id, name: 'foos', code: FOOS, initialState: 0, db });
    await caughtUp(client, streams[size].statePath, size - 1);
  }
  // Honest: every reducer has folded its whole stream, and counted what a scan counts.
  for (const size of sizes) {
    const view = await readReducerState({ streamId: streams[size].id, name: 'foos' });
    const [{ n }] = await db.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM "Event" WHERE "streamId" = ${streams[size].id}::uuid AND body->>'type' = 'foo'`;
    if (view?.folded !== size || view.stateJson !== String(n)) throw new Error(`the ${size}-event reducer is not caught up: ${JSON.stringify(view)} vs ${n}`);
  }

  const fold: Record<number, number[]> = Object.fromEntries(sizes.map((s) => [s, []]));
  const count: Record<number, number[]> = Object.fromEntries(sizes.map((s) => [s, []]));
  const read: Record<number, number[]> = Object.fromEntries(sizes.map((s) => [s, []]));
  const readHttp: Record<number, number[]> = Object.fromEntries(sizes.map((s) => [s, []]));
  let discarded = 0;
  for (let r = 0; r < runs + 3; r++) {
    // Interleaved, so both sizes see the same machine; the first 3 rounds warm up.
    for (const size of sizes) {
      const { id, statePath } = streams[size];
      await appendWithoutWake(db, id);
      t0 = performance.now();
      const { folded } = await foldStream({ streamId: id, db });
      const dt = performance.now() - t0;
      if (folded !== 1) discarded++;
      else if (r >= 3) fold[size].push(dt);
      if (r < 3 || r % 3 !== 0) continue;
      t0 = performance.now();
      await db.$queryRaw`SELECT count(*) FROM "Event" WHERE "streamId" = ${id}::uuid`;
      count[size].push(performance.now() - t0);
      t0 = performance.now();
      await readReducerState({ streamId: id, name: 'foos' });
      read[size].push(performance.now() - t0);
      t0 = performance.now();
      await client.request('GET', statePath);
      readHttp[size].push(performance.now() - t0);
    }
    await sleep(5);
  }
  // Time travel: the state after a random event, folded from the nearest snapshot.
  const at: Record<number, number[]> = Object.fromEntries(sizes.map((s) => [s, []]));
  for (let r = 0; r < runs + 3; r++) {
    for (const size of sizes) {
      const i = Math.floor(Math.random() * size);
      t0 = performance.now();
      const res = await client.request('GET', `${streams[size].statePath}?at=${i}`);
      if (res.status !== 200) throw new Error(`?at=${i}: ${res.status} ${res.body.slice(0, 200)}`);
      if (r >= 3) at[size].push(performance.now() - t0);
    }
  }
  const med = (m: Record<number, number[]>) => Object.fromEntries(sizes.map((s) => [s, percentile(m[s], 50)]));
  return {
    insertS,
    catchupEventsPerS: big / catchupS,
    catchupS,
    catchupCpuUs,
    foldMs: med(fold),
    foldSamples: Object.fromEntries(sizes.map((s) => [s, fold[s].length])),
    discarded,
    countMs: med(count),
    readStateMs: med(read),
    readStateHttpMs: med(readHttp),
    atMs: med(at),
  };
}
