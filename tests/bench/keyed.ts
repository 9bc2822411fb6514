// Keyed reducers (issue 17) at scale, through the running production build:
// - 10⁶ keys stored: generated in SQL, in one transaction, into "Event", "KeyedState" and
//   "KeyedChange" with the reducer's cursor and keyCount to match — the rows the fold itself writes
//   for an event naming a new key ({"n":1} at the event's index). Not folded for real: on a table
//   never analyzed (this one is new) a batch's read of its keys' states, `key = ANY($4)`, is planned
//   as a filter over every key the reducer holds instead of one index probe per key, so folding 10⁶
//   new keys is quadratic and takes hours (10⁵ took 158 s; see keyed-phases.ts); the catch-up below
//   measures the real fold. Then VACUUM ANALYZE, as autovacuum would after a million inserts (it is
//   off on the development machine's PostgreSQL). The storage per key is measured on these rows;
// - catch-up: a new keyed reducer on a stream of 10⁶ events over 10⁵ keys, from its creation until
//   `GET state?after=` the last index answers (keyBy, the keys' read, the fold and the commit of every
//   change, end to end through the worker), cut off at a deadline if it cannot finish (then the rate
//   so far is reported, marked incomplete, and the reducer disabled);
// - one more event (and a batch of ten) on keys already stored, folded by foldStream (the worker's own
//   function, run here) with 10⁶ keys stored and with 10³, beside an unkeyed counter; interleaved,
//   medians. The appends are made in SQL without waking the queue; a sample the worker's sweep
//   folded first is discarded and counted;
// - one key among 10⁶ over HTTP, beside the unkeyed state and the floor server's bare lookup;
// - one key's state as of a random event (`?at=i`) on the catch-up's stream.
// Every figure is checked against what the events say before it is reported.
import type { Db } from '../../src/lib/server/db/client.ts';
import { Client, percentile, summary } from './client.ts';

const KEY_BY = '(e) => e.user';
const PER_KEY = '(s) => ({ n: s.n + 1 })';
const COUNTER = '(n) => n + 1';

export type KeyedFigures = {
  keys: number;
  catchupEvents: number;
  catchupKeys: number;
  /** The catch-up: events folded when it ended (all of them unless cut off), and in how long. */
  catchupFolded: number;
  catchupS: number;
  catchupComplete: boolean;
  catchupCpuUs: { worker: number; postgres: number };
  seedS: number;
  /** Bytes of "KeyedState" / "KeyedChange" (each with its index) per stored key, one change each. */
  bytesPerKey: { state: number; change: number; total: number };
  /** The catch-up's history: bytes of "KeyedChange" per change it wrote. */
  bytesPerChange: number;
  foldMs: Sides;
  batchFoldMs: Sides;
  foldSamples: number;
  discarded: number;
  read: { key: Stats; plain: Stats; floor: Stats | null };
  at: { http: Stats; sql: Stats; current: Stats; events: number };
};
type Sides = { small: number; big: number; plain: number };
type Stats = ReturnType<typeof summary>;

async function newStream(db: Db, teamId: string, slug: string): Promise<string> {
  const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
  return (await ensureStream({ teamId, slug, select: { id: true }, db })).id;
}

/** Events generated straight into "Event" (the append path is measured elsewhere); `user` is an SQL expression of g. */
async function loadEvents(db: Db, streamId: string, size: number, user: string): Promise<void> {
  await db.$executeRawUnsafe(
    `INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
     SELECT $1::uuid, g, jsonb_build_object('user', ${user}, 'n', g), now() FROM generate_series(0, $2::int - 1) AS g`,
    streamId,
    size,
  );
  await db.$executeRaw`UPDATE "Stream" SET length = ${size}, "lastEventAt" = now() WHERE id = ${streamId}::uuid`;
}

/**
 * A keyed reducer holding `size` keys k0…k{size-1}, each seen once by event g: the events, their keys'
 * states and history, the cursor and keyCount, in one transaction. The reducer is created on the
 * empty stream first, so the worker, woken by its creation, finds nothing to fold until all of it is
 * there, and then nothing either (cursor = length).
 */
export async function seedKeys(db: Db, teamId: string, slug: string, size: number): Promise<{ streamId: string; reducerId: string }> {
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const streamId = await newStream(db, teamId, slug);
  const { reducer } = await upsertReducer({ streamId, name: 'keys', code: PER_KEY, keyBy: KEY_BY, initialState: { n: 0 }, db });
  await db.$transaction(
    async (tx) => {
      await tx.$executeRawUnsafe(
        `INSERT INTO "Event" ("streamId", "index", body, "receivedAt") SELECT $1::uuid, g, jsonb_build_object('user', 'k' || g, 'n', g), now() FROM generate_series(0, $2::int - 1) AS g`,
        streamId,
        size,
      );
      for (const table of ['KeyedState', 'KeyedChange']) {
        await tx.$executeRawUnsafe(
          `INSERT INTO "${table}" ("streamId", "reducerId", lineage, key, state, "index") SELECT $1::uuid, $2::uuid, 1, 'k' || g, '{"n": 1}'::jsonb, g FROM generate_series(0, $3::int - 1) AS g`,
          streamId,
          reducer.id,
          size,
        );
      }
      const moved = await tx.$executeRaw`UPDATE "ReducerState" SET cursor = ${size}, "keyCount" = ${size} WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducer.id}::uuid AND cursor = 0 AND lineage = 1`;
      if (moved !== 1) throw new Error('keyed bench: the seeded reducer had moved');
      await tx.$executeRaw`UPDATE "Stream" SET length = ${size}, "lastEventAt" = now() WHERE id = ${streamId}::uuid`;
    },
    { timeout: 600_000, maxWait: 10_000 },
  );
  return { streamId, reducerId: reducer.id };
}

/** Appends without waking the fold queue (appendEvents' statement, minus the wake-up). */
async function appendQuietly(db: Db, streamId: string, users: string[]): Promise<void> {
  const bodies = users.map((user) => JSON.stringify({ user }));
  await db.$executeRaw`
    WITH bumped AS (UPDATE "Stream" SET length = length + ${bodies.length}, "lastEventAt" = now() WHERE id = ${streamId}::uuid RETURNING length, "lastEventAt" AS at)
    INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
    SELECT ${streamId}::uuid, b.length - ${bodies.length} + u.i - 1, u.body::jsonb, b.at FROM bumped b, unnest(${bodies}::text[]) WITH ORDINALITY AS u(body, i)`;
}

/** Waits (long-polling, as a client would) until the reducer has folded index `last`; false if `deadline` (ms epoch) came first. */
async function caughtUp(client: Client, statePath: string, last: number, deadline = Date.now() + 600_000): Promise<boolean> {
  for (;;) {
    if (Date.now() > deadline) return false;
    const r = await client.request('GET', `${statePath}?after=${last}&limit=1`);
    if (r.status === 200 && Number(r.headers['pipet-folded']) > last) return true;
    if (r.status !== 503) throw new Error(`catch-up: ${r.status} ${r.body.slice(0, 200)}`);
  }
}

async function keyedSizes(): Promise<{ state: number; change: number }> {
  const { sql } = await import('../../src/lib/server/db/client.ts');
  const [row] = await sql<{ state: string; change: string }>(`SELECT pg_total_relation_size('"KeyedState"') AS state, pg_total_relation_size('"KeyedChange"') AS change`);
  return { state: Number(row.state), change: Number(row.change) };
}

const randomInt = (n: number) => Math.floor(Math.random() * n);

export async function benchKeyed({ db, teamId, teamSlug, client, floorUrl, log, cpuNow, keys = 1_000_000, smallKeys = 1_000, catchupEvents = 1_000_000, catchupKeys = catchupEvents / 10, catchupMaxS = 150, runs = 60, reads = 1_000 }: {
  db: Db;
  teamId: string;
  teamSlug: string;
  client: Client;
  /** The floor server, for the bare lookup of one key. */
  floorUrl?: string;
  log: (s: string) => void;
  /** CPU used so far by the worker and PostgreSQL, ms. */
  cpuNow: () => { worker: number; postgres: number };
  /** Keys stored in the big reducer; the small one's. */
  keys?: number;
  smallKeys?: number;
  catchupEvents?: number;
  catchupKeys?: number;
  /** The catch-up is cut off after this long. */
  catchupMaxS?: number;
  runs?: number;
  reads?: number;
}): Promise<KeyedFigures> {
  const { sql } = await import('../../src/lib/server/db/client.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
  const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
  const { keyAt } = await import('../../src/lib/server/reducers/read-keys.ts');
  const path = (slug: string, rest = '') => `/s/${teamSlug}/${slug}/state${rest}`;
  const expect = (what: string, got: unknown, want: unknown) => {
    if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`keyed bench: ${what} is ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  };

  // The big reducer is the first keyed one, so the tables' growth is its rows alone.
  const empty = await keyedSizes();
  let t0 = performance.now();
  const big = await seedKeys(db, teamId, 'keyed-big', keys);
  const seedS = (performance.now() - t0) / 1000;
  const seeded = await keyedSizes();
  log(`seeded ${keys.toLocaleString('en-US')} keys in SQL in ${seedS.toFixed(1)} s`);
  const small = await seedKeys(db, teamId, 'keyed-small', smallKeys);
  const plain = await newStream(db, teamId, 'keyed-plain');
  await loadEvents(db, plain, smallKeys, `'k' || g`);
  await upsertReducer({ streamId: plain, name: 'count', code: COUNTER, initialState: 0, db });
  const catchup = await newStream(db, teamId, 'keyed-catchup');
  await loadEvents(db, catchup, catchupEvents, `'u' || (g % ${catchupKeys})`);
  await caughtUp(client, path('keyed-plain', '/count'), smallKeys - 1);
  // What autovacuum does after a million inserts, done now so that it does not run inside a measurement.
  await db.$executeRawUnsafe(`VACUUM ANALYZE "KeyedState", "KeyedChange", "Event", "ReducerState"`);

  // Catch-up, end to end through the worker.
  const beforeCatchup = await keyedSizes();
  const cpuAt = cpuNow();
  t0 = performance.now();
  const { reducer: users } = await upsertReducer({ streamId: catchup, name: 'users', code: PER_KEY, keyBy: KEY_BY, initialState: { n: 0 }, db });
  const catchupComplete = await caughtUp(client, path('keyed-catchup', '/users'), catchupEvents - 1, Date.now() + catchupMaxS * 1000);
  let catchupS = (performance.now() - t0) / 1000;
  const cpuAfter = cpuNow();
  let catchupFolded = catchupEvents;
  if (!catchupComplete) {
    // Cut off: the rate so far, then the reducer stops (its last batch may still commit).
    catchupFolded = (await readReducerState({ streamId: catchup, name: 'users' }))!.folded;
    catchupS = (performance.now() - t0) / 1000;
    await db.$executeRaw`UPDATE "Reducer" SET enabled = false WHERE "streamId" = ${catchup}::uuid AND id = ${users.id}::uuid`;
    await new Promise((r) => setTimeout(r, 3_000));
  }
  const afterCatchup = await keyedSizes();
  log(`catch-up: ${catchupFolded.toLocaleString('en-US')} of ${catchupEvents.toLocaleString('en-US')} events over ${catchupKeys.toLocaleString('en-US')} keys in ${catchupS.toFixed(1)} s${catchupComplete ? '' : ' (cut off)'}`);

  // Honest: every reducer holds the keys its events name, with the states a per-key count gives.
  const views = {
    big: (await readReducerState({ streamId: big.streamId, name: 'keys' }))!,
    small: (await readReducerState({ streamId: small.streamId, name: 'keys' }))!,
    catchup: (await readReducerState({ streamId: catchup, name: 'users' }))!,
  };
  expect('the big reducer (folded, keys)', [views.big.folded, views.big.keyed?.keyCount], [keys, keys]);
  expect('the small reducer (folded, keys)', [views.small.folded, views.small.keyed?.keyCount], [smallKeys, smallKeys]);
  const folded = views.catchup.folded;
  if (catchupComplete) expect('the catch-up reducer (folded, keys)', [folded, views.catchup.keyed?.keyCount], [catchupEvents, catchupKeys]);
  const [changes] = await sql<{ n: number; keys: number; wrong: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT key)::int AS keys, count(*) FILTER (WHERE (state->>'n')::int <> ("index" / $3::int) + 1 OR key <> 'u' || ("index" % $3::int))::int AS wrong
     FROM "KeyedChange" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`,
    [catchup, users.id, catchupKeys],
  );
  expect('the catch-up history (changes, keys, wrong states)', [changes.n, changes.keys, changes.wrong], [folded, Math.min(folded, catchupKeys), 0]);
  await db.$executeRawUnsafe(`VACUUM ANALYZE "KeyedState", "KeyedChange"`);

  // One more event (and a batch of ten) on keys already stored: 10⁶ keys, 10³ keys, and an unkeyed counter.
  const sides = [
    { name: 'small', id: small.streamId, keys: smallKeys },
    { name: 'big', id: big.streamId, keys },
    { name: 'plain', id: plain, keys: smallKeys },
  ] as const;
  const fold = { small: [] as number[], big: [] as number[], plain: [] as number[] };
  const batch = { small: [] as number[], big: [] as number[], plain: [] as number[] };
  const appended = { small: 0, big: 0, plain: 0 };
  let discarded = 0;
  for (let r = 0; r < runs + 5; r++) {
    // Interleaved, so all three see the same machine; the first 5 rounds warm up.
    for (const side of sides) {
      for (const [size, into] of [[1, fold], [10, batch]] as const) {
        await appendQuietly(db, side.id, Array.from({ length: size }, () => `k${randomInt(side.keys)}`));
        appended[side.name] += size;
        t0 = performance.now();
        const { folded: n } = await foldStream({ streamId: side.id, db });
        const dt = performance.now() - t0;
        if (n !== size) discarded++;
        else if (r >= 5) into[side.name].push(dt);
      }
    }
  }
  const after = {
    big: (await readReducerState({ streamId: big.streamId, name: 'keys' }))!,
    small: (await readReducerState({ streamId: small.streamId, name: 'keys' }))!,
  };
  expect('the big reducer after the appends (folded, keys)', [after.big.folded, after.big.keyed?.keyCount], [keys + appended.big, keys]);
  expect('the small reducer after the appends (folded, keys)', [after.small.folded, after.small.keyed?.keyCount], [smallKeys + appended.small, smallKeys]);
  const [sums] = await sql<{ n: number }>(`SELECT sum((state->>'n')::int)::int AS n FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`, [small.streamId, small.reducerId]);
  expect("the small reducer's sum of counts", sums.n, smallKeys + appended.small);
  log(`folded one more event and ten more, ${runs} times each (${discarded} samples discarded)`);

  // One key among 10⁶ over HTTP, beside the unkeyed state on the same server and the floor's bare lookup.
  const floor = floorUrl ? new Client(floorUrl) : null;
  const read = { key: [] as number[], plain: [] as number[], floor: [] as number[] };
  const floorQuery = `stream=${big.streamId}&reducer=${big.reducerId}&lineage=${views.big.keyed!.lineage}`;
  for (let r = 0; r < reads + 100; r++) {
    const key = `k${randomInt(keys)}`;
    t0 = performance.now();
    const res = await client.request('GET', path('keyed-big', `/keys/${key}`));
    const dt = performance.now() - t0;
    if (res.status !== 200 || !(JSON.parse(res.body).n >= 1)) throw new Error(`GET key ${key}: ${res.status} ${res.body.slice(0, 200)}`);
    if (r >= 100) read.key.push(dt);
    t0 = performance.now();
    const count = await client.request('GET', path('keyed-plain', '/count'));
    if (count.status !== 200) throw new Error(`GET state: ${count.status} ${count.body.slice(0, 200)}`);
    if (r >= 100) read.plain.push(performance.now() - t0);
    if (!floor) continue;
    t0 = performance.now();
    const bare = await floor.request('GET', `/key?${floorQuery}&key=${key}`);
    // The same row, so the same text (both are PostgreSQL's jsonb text).
    if (bare.status !== 200 || bare.body !== res.body) throw new Error(`floor GET key ${key}: ${bare.status} ${bare.body.slice(0, 200)} vs ${res.body.slice(0, 200)}`);
    if (r >= 100) read.floor.push(performance.now() - t0);
  }
  floor?.close();
  log(`read ${reads} keys over HTTP`);

  // A key's state as of a random event of the catch-up's stream: u{j} is first seen at j, and has n = ⌊(i − j) / keys⌋ + 1 after i.
  const at = { http: [] as number[], sql: [] as number[], current: [] as number[] };
  const scope = { streamId: catchup, reducerId: users.id, lineage: views.catchup.keyed!.lineage };
  const seen = Math.min(folded, catchupKeys);
  for (let r = 0; r < 300 + 20; r++) {
    const j = randomInt(seen);
    const i = j + randomInt(folded - j);
    const want = Math.floor((i - j) / catchupKeys) + 1;
    t0 = performance.now();
    const res = await client.request('GET', path('keyed-catchup', `/users/u${j}?at=${i}`));
    const dt = performance.now() - t0;
    if (res.status !== 200 || JSON.parse(res.body).n !== want) throw new Error(`GET u${j}?at=${i}: ${res.status} ${res.body.slice(0, 200)}, expected n ${want}`);
    t0 = performance.now();
    const past = await keyAt({ ...scope, key: `u${j}`, index: i });
    const dtSql = performance.now() - t0;
    if (JSON.parse(past!.stateJson).n !== want) throw new Error(`keyAt u${j} ${i}: ${past?.stateJson}`);
    t0 = performance.now();
    const now = await client.request('GET', path('keyed-catchup', `/users/u${j}`));
    if (now.status !== 200) throw new Error(`GET u${j}: ${now.status}`);
    if (r < 20) continue;
    at.http.push(dt);
    at.sql.push(dtSql);
    at.current.push(performance.now() - t0);
  }

  const med = (m: Record<keyof Sides, number[]>): Sides => ({ small: percentile(m.small, 50), big: percentile(m.big, 50), plain: percentile(m.plain, 50) });
  return {
    keys,
    catchupEvents,
    catchupKeys,
    catchupFolded,
    catchupS,
    catchupComplete,
    catchupCpuUs: { worker: ((cpuAfter.worker - cpuAt.worker) * 1000) / catchupFolded, postgres: ((cpuAfter.postgres - cpuAt.postgres) * 1000) / catchupFolded },
    seedS,
    bytesPerKey: { state: (seeded.state - empty.state) / keys, change: (seeded.change - empty.change) / keys, total: (seeded.state - empty.state + seeded.change - empty.change) / keys },
    bytesPerChange: (afterCatchup.change - beforeCatchup.change) / Math.max(1, folded),
    foldMs: med(fold),
    batchFoldMs: med(batch),
    foldSamples: fold.big.length,
    discarded,
    read: { key: summary(read.key), plain: summary(read.plain), floor: floor ? summary(read.floor) : null },
    at: { http: summary(at.http), sql: summary(at.sql), current: summary(at.current), events: folded },
  };
}
