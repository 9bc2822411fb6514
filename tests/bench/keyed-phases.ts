// Where a keyed fold's time goes, phase by phase, on a database of its own (no web, no worker).
// Each batch of a catch-up is read, its keys named (sandbox), its keys' states read (as fold-keyed.ts
// reads them, and as one index probe per key, a proposal), folded (sandbox, beside an unkeyed counter
// on the same events), then foldKeyed runs whole; every 5th batch the commit runs in a rolled-back
// transaction, whole and as its two big statements with and without the foreign keys' checks; then
// foldStream folds the batch for real. Wall time and CPU (this process; of it the main thread) per
// phase; at the end the keys' read's generic plan and KeyedState's HOT updates.
// Run: npx node tests/bench/keyed-phases.ts [events] [keys] [stored keys]
//   events over keys, folded from 0; "stored keys": another reducer's keys, generated in SQL first
//   (KEYED_PHASES_FOLD_STORED=1 folds them for real) and analyzed, so the tables hold that many rows.
//   KEYED_PHASES_EXPLAIN=1: auto_explain's nested plans of one commit (its timings include
//   auto_explain's own overhead). KEYED_PHASES_ONLY_FOLD=1: foldStream alone, e.g. under
//   `npx node --cpu-prof …` (the sandbox threads are not in that profile: see keyed-engine.ts).
import pg from 'pg';
import { benchResources } from './stack.ts';
import { seedKeys } from './keyed.ts';

const [events = 20_000, keys = 2_000, stored = 0] = process.argv.slice(2).map(Number);
const id = `kph${Date.now().toString(36)}`;
const resources = await benchResources(id);
Object.assign(process.env, { DATABASE_URL: resources.databaseUrl, REDIS_URL: resources.services.redisUrl, QUEUE_PREFIX: resources.prefix });
(await import('../../src/lib/server/env.ts')).resetEnv();
const { db, sql } = await import('../../src/lib/server/db/client.ts');
const { makeTeam } = await import('../helpers/context.ts');
const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { foldSlice } = await import('../../src/lib/server/reducers/sandbox/index.ts');
const { foldKeyed } = await import('../../src/lib/server/reducers/fold-keyed.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');
const { closeAll } = await import('../../src/lib/server/shutdown.ts');

// Wall time, this process's CPU (main thread and sandbox threads) and the main thread's alone;
// PostgreSQL's is its own.
const phases: Record<string, { ms: number; cpuMs: number; mainMs: number }> = {};
const add = (name: string, ms: number, cpuMs = 0, mainMs = 0) => {
  const p = (phases[name] ??= { ms: 0, cpuMs: 0, mainMs: 0 });
  p.ms += ms;
  p.cpuMs += cpuMs;
  p.mainMs += mainMs;
};
const time = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const m0 = process.threadCpuUsage();
  try {
    return await f();
  } finally {
    const c = process.cpuUsage(c0);
    const m = process.threadCpuUsage(m0);
    add(name, performance.now() - t0, (c.user + c.system) / 1000, (m.user + m.system) / 1000);
  }
};

async function load(teamId: string, slug: string, n: number, k: number): Promise<string> {
  const stream = await ensureStream({ teamId, slug, select: { id: true } });
  await db().$executeRawUnsafe(
    `INSERT INTO "Event" ("streamId", "index", body, "receivedAt") SELECT $1::uuid, g, jsonb_build_object('user', 'u' || (g % $3::int), 'n', g), now() FROM generate_series(0, $2::int - 1) AS g`,
    stream.id,
    n,
    k,
  );
  await db().$executeRaw`UPDATE "Stream" SET length = ${n} WHERE id = ${stream.id}::uuid`;
  return stream.id;
}

try {
  const team = await makeTeam(db());
  const reducer = { code: '(s) => ({ n: s.n + 1 })', keyBy: '(e) => e.user', initialState: { n: 0 } };
  if (stored > 0) {
    // Generated in SQL (keyed.ts), as the bench does; KEYED_PHASES_FOLD_STORED=1 folds them for real
    // instead (on a table never analyzed, that is quadratic: see the keys' read below).
    const t0 = performance.now();
    if (process.env.KEYED_PHASES_FOLD_STORED === '1') {
      const other = await load(team.id, 'other', stored, stored);
      await upsertReducer({ streamId: other, name: 'other', ...reducer });
      while ((await foldStream({ streamId: other, timeBudgetMs: 600_000 })).more);
    } else {
      await seedKeys(db(), team.id, 'other', stored);
    }
    console.log(`stored ${stored} other keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    await db().$executeRawUnsafe(`VACUUM ANALYZE "KeyedState", "KeyedChange"`);
  }
  const streamId = await load(team.id, 'catchup', events, keys);
  await db().$executeRawUnsafe(`ANALYZE "Event"`);
  await upsertReducer({ streamId, name: 'users', ...reducer });
  const [track] = await sql<{ reducerId: string }>(`SELECT "reducerId" FROM "ReducerState" WHERE "streamId" = $1::uuid`, [streamId]);
  const code = { code: reducer.code, keyBy: reducer.keyBy, initialJson: JSON.stringify(reducer.initialState) };
  const explain = process.env.KEYED_PHASES_EXPLAIN === '1';
  const commitClient = new pg.Client({ connectionString: resources.databaseUrl });
  await commitClient.connect();
  const notices: string[] = [];
  if (explain) {
    commitClient.on('notice', (n) => notices.push(n.message ?? ''));
    await commitClient.query(`LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on; SET auto_explain.log_level = notice; SET auto_explain.log_timing = on`);
  }

  const began = performance.now();
  let folded = 0;
  let batches = 0;
  // KEYED_PHASES_ONLY_FOLD=1: foldStream alone, batch after batch (what a catch-up runs), e.g. under --cpu-prof.
  const onlyFold = process.env.KEYED_PHASES_ONLY_FOLD === '1';
  while (folded < events) {
    if (onlyFold) {
      const { folded: n } = await time('foldStream (real, whole round)', () => foldStream({ streamId, timeBudgetMs: 0 }));
      folded += n;
      batches++;
      continue;
    }
    const [rs] = await sql<{ cursor: number; keyCount: number; lineage: number; version: number; keysEpoch: number }>(
      `SELECT cursor, "keyCount", lineage, version, "keysEpoch" FROM "ReducerState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`,
      [streamId, track.reducerId],
    );
    const rows = await time('read events', () => readEvents({ streamId, start: rs.cursor, end: Math.min(events, rs.cursor + 1000) }));
    const batch = rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
    const stream = { team: 'team', name: 'catchup', length: events };
    // The phases, as fold-keyed.ts runs them.
    const named = await time('sandbox: keyBy', () => foldSlice({ tenant: team.id, cacheKey: `${track.reducerId}:1:key`, code: code.keyBy, stateJson: 'null', events: batch, stream, mode: 'keys' }));
    const wanted = [...new Set(named.keys!.filter((k): k is string => k !== null))];
    const storedRows = await time('select keys', () =>
      sql<{ key: string; state: string | null }>(
        `SELECT key, state::text AS state FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3 AND key = ANY($4::text[])`,
        [streamId, track.reducerId, rs.lineage, wanted],
      ),
    );
    // The same read as one index probe per key, whatever the planner believes of the reducer's size (a proposal).
    await time('select keys (lateral, proposal)', () =>
      sql<{ key: string; state: string | null }>(
        `SELECT k.key, s.state FROM unnest($4::text[]) AS k(key)
         CROSS JOIN LATERAL (SELECT state::text AS state FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3 AND key = k.key LIMIT 1) s`,
        [streamId, track.reducerId, rs.lineage, wanted],
      ),
    );
    const ks = `{${storedRows.map((r) => `${JSON.stringify(r.key)}:${r.state}`).join(',')}}`;
    const f = await time('sandbox: fold', () =>
      foldSlice({ tenant: team.id, cacheKey: `${track.reducerId}:1`, code: code.code, stateJson: code.initialJson, events: batch, stream, mode: 'keyed', keys: named.keys as string[], keyStatesJson: ks }),
    );
    if (f.folded < batch.length) add('(yielded slices)', 1);
    // The reference: the same events through an unkeyed counter in the same sandbox.
    await time('sandbox: unkeyed counter (reference)', () => foldSlice({ tenant: team.id, cacheKey: `${track.reducerId}:plain`, code: '(n) => n + 1', stateJson: '0', events: batch, stream }));
    // The whole of foldKeyed again (the three calls above plus its own work), to see what the rest costs.
    const whole = await time('foldKeyed (whole, again)', () =>
      foldKeyed({ track: { reducerId: track.reducerId, version: 1, lineage: rs.lineage, keyCount: rs.keyCount, keyLimit: 1e9 }, code, tenant: team.id, stream: { id: streamId, ...stream }, events: batch }),
    );
    if (batches % 5 === 0) {
      const w = whole.writes;
      await commitClient.query('BEGIN');
      notices.length = 0;
      const t0 = performance.now();
      await commitClient.query(
        `SELECT pipet_commit_keyed_fold($1::uuid, $2::uuid, false, $3::int, 1, $4::int, NULL, NULL, NULL, $5::uuid, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', $6::int, $7::int, $8::text[], $9::text[], $10::int[], $11::text[], $12::int[], $13::text[])`,
        [streamId, track.reducerId, rs.cursor + whole.result.folded, rs.cursor, team.id, rs.lineage, rs.keysEpoch, w.states.map((s) => s.key), w.states.map((s) => s.json), w.states.map((s) => s.index), w.changes.map((c) => c.key), w.changes.map((c) => c.index), w.changes.map((c) => c.json)],
      );
      add('commit (rolled back; per 5th batch, ×5)', (performance.now() - t0) * 5);
      await commitClient.query('ROLLBACK');
      // Its two big statements alone, with the foreign keys' checks (a trigger per row) and without.
      const upsert = `INSERT INTO "KeyedState" ("streamId", "reducerId", lineage, key, state, "index")
        SELECT $1::uuid, $2::uuid, $3::int, u.k, u.v::jsonb, u.i FROM unnest($4::text[], $5::text[], $6::int[]) AS u(k, v, i)
        ON CONFLICT ("streamId", "reducerId", lineage, key) DO UPDATE SET state = EXCLUDED.state, "index" = EXCLUDED."index", "updatedAt" = now()`;
      const history = `INSERT INTO "KeyedChange" ("streamId", "reducerId", lineage, key, "index", state)
        SELECT $1::uuid, $2::uuid, $3::int, c.k, c.i, c.v::jsonb FROM unnest($4::text[], $5::int[], $6::text[]) AS c(k, i, v) ON CONFLICT DO NOTHING`;
      for (const triggers of [true, false]) {
        await commitClient.query('BEGIN');
        if (!triggers) await commitClient.query(`SET LOCAL session_replication_role = replica`);
        let t1 = performance.now();
        await commitClient.query(upsert, [streamId, track.reducerId, rs.lineage, w.states.map((x) => x.key), w.states.map((x) => x.json), w.states.map((x) => x.index)]);
        add(`  KeyedState upsert${triggers ? '' : ' (no FK checks)'} ×5`, (performance.now() - t1) * 5);
        t1 = performance.now();
        await commitClient.query(history, [streamId, track.reducerId, rs.lineage, w.changes.map((c) => c.key), w.changes.map((c) => c.index), w.changes.map((c) => c.json)]);
        add(`  KeyedChange insert${triggers ? '' : ' (no FK checks)'} ×5`, (performance.now() - t1) * 5);
        await commitClient.query('ROLLBACK');
      }
      if (explain && batches === 10) console.log(notices.map((n) => n.split('\n').slice(0, 12).join('\n')).join('\n---\n'));
    }
    const { folded: n } = await time('foldStream (real, whole round)', () => foldStream({ streamId, timeBudgetMs: 0 }));
    folded += n;
    batches++;
  }
  const total = performance.now() - began;
  // The keys' read as the worker's named statement runs it (a generic plan, after five executions), for the last 1,000 keys.
  const plan = new pg.Client({ connectionString: resources.databaseUrl });
  await plan.connect();
  const [rs] = await sql<{ lineage: number }>(`SELECT lineage FROM "ReducerState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`, [streamId, track.reducerId]);
  const last = Array.from({ length: Math.min(1000, keys) }, (_, i) => `u${keys - 1 - i}`);
  await plan.query(`SET plan_cache_mode = force_generic_plan; PREPARE k(uuid, uuid, int, text[]) AS SELECT key, state::text AS state FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3 AND key = ANY($4::text[])`);
  const literal = (a: string[]) => `'{${a.map((k) => `"${k}"`).join(',')}}'`;
  const explained = await plan.query(`EXPLAIN (ANALYZE, BUFFERS) EXECUTE k('${streamId}', '${track.reducerId}', ${rs.lineage}, ${literal(last)})`);
  console.log(explained.rows.map((r) => r['QUERY PLAN']).join('\n'));
  await plan.end();
  // Updates of a key's row: HOT (no new index entry) only when its page has room.
  const [tup] = await sql<Record<string, string>>(
    `SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_dead_tup, pg_size_pretty(pg_total_relation_size('"KeyedState"')) AS size FROM pg_stat_user_tables WHERE relname = 'KeyedState'`,
  );
  console.log(`KeyedState: ${JSON.stringify(tup)}`);
  console.log(`${events} events over ${keys} keys${stored ? ` (${stored} other keys stored)` : ''}: ${batches} batches, ${(total / 1000).toFixed(1)} s in all`);
  console.log(`${''.padEnd(38)} wall ms per batch   µs per event   CPU µs per event: process, of it the main thread`);
  for (const [name, { ms, cpuMs, mainMs }] of Object.entries(phases)) console.log(`${name.padEnd(38)} ${(ms / batches).toFixed(2).padStart(10)} ${((ms * 1000) / events).toFixed(2).padStart(14)} ${((cpuMs * 1000) / events).toFixed(2).padStart(14)} ${((mainMs * 1000) / events).toFixed(2).padStart(10)}`);
  await commitClient.end();
} finally {
  await closeAll();
  await resources.cleanup();
}
