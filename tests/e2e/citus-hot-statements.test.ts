// Every statement on Pipet's hot path is single-shard on Citus: it filters each distributed table it
// touches by equality on that table's distribution column (docs/scaling-citus.md). A web and a
// worker process run against PostgreSQL through a recording proxy while events are appended, folded
// with a webhook effect, delivered, read back and the stream deleted; then every statement they sent
// is checked. The few that may read every shard are listed below, each with its reason.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeStream, makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { recordStatements, type StatementRecorder } from '../helpers/pg-statements.ts';
import { startReceiver } from '../helpers/effects.ts';
import { DISTRIBUTED, distributionViolations } from '../helpers/single-shard.ts';

const own = await useOwnDatabase('hotsql');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

/**
 * Statements allowed to read or write every shard, by a pattern of their text, and why. Anything
 * else touching a distributed table without its distribution value fails the test.
 */
const EXCEPTIONS: { pattern: RegExp; reason: string }[] = [
  { pattern: /SELECT DISTINCT r\."streamId", s\."teamId" FROM "Reducer" r/, reason: 'sweepFolds: the periodic sweep for reducers behind their stream (co-located joins, pushed down to every shard)' },
  { pattern: /FROM "public"\."Effect" WHERE \("public"\."Effect"\."status" = CAST\(\$1::text AS "public"\."EffectStatus"\) AND "public"\."Effect"\."nextAttemptAt" <= \$2\)/, reason: 'sweepEffects: the periodic sweep for due effects (ordered and limited per shard, merged)' },
  { pattern: /DELETE FROM "public"\."IdempotencyRecord" WHERE "public"\."IdempotencyRecord"\."createdAt" < \$1/, reason: 'sweepIdempotency: periodic expiry of idempotency records' },
  { pattern: /DELETE FROM "Effect" WHERE \("streamId", id\) IN \(/, reason: 'pruneEffects: periodic retention' },
  { pattern: /DELETE FROM "EmailMessage" WHERE \("teamId", id\) IN \(/, reason: 'pruneEffects: periodic retention of the outbox' },
  { pattern: /FROM "ReducerSnapshot" WINDOW w AS \(PARTITION BY "streamId", "reducerId"/, reason: 'pruneSnapshots: periodic retention, windows partitioned by the distribution column' },
  { pattern: /FROM "public"\."Reducer" LEFT JOIN "public"\."Stream" AS "j0" ON \("j0"\."id"\) = \("public"\."Reducer"\."streamId"\) WHERE \(\("j0"\."teamId" = \$1 AND \("j0"\."id" IS NOT NULL\)\) AND "public"\."Reducer"\."keyBy" IS NOT NULL\)/, reason: "team.storage: the team page lists the team's keyed reducers (a team's streams span shards); each sample is then on one reducer's shard" },
  { pattern: /^SELECT "streamId", "reducerId", lineage, "replayVersion" FROM "ReducerState" WHERE version > 1 OR "replayVersion" IS NOT NULL$/, reason: 'pruneKeyLineages: periodic retention lists every reducer once; each of its deletes is on one reducer\'s shard' },
];

let web: Running;
let worker: Running;
let recorder: StatementRecorder;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let team: TeamFixture;

beforeAll(async () => {
  recorder = await recordStatements(own.env.DATABASE_URL);
  const through = { ...own.env, DATABASE_URL: recorder.url };
  team = await makeTeam(db());
  const { signingSecret } = await db().team.findUniqueOrThrow({ where: { id: team.id } });
  receiver = await startReceiver(signingSecret);
  web = await startWeb(through);
  worker = startWorkerProcess({ ...through, ALLOW_PRIVATE_WEBHOOKS: 'true', SWEEP_INTERVAL_MS: '300', RETENTION_INTERVAL_MS: '300' });
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
  await receiver?.close();
  await recorder?.close();
});

it('keeps every statement of append, fold, delivery, reads and stream deletion on one shard', async () => {
  const stream = await makeStream(db(), { teamId: team.id, slug: 'orders', name: 'orders' });
  await upsertReducer({ streamId: stream.id, name: 'count', code: `(n, e) => { request(${JSON.stringify(`${receiver.url}/hook`)}, { body: e }); return n + 1; }`, initialState: 0 });
  // A keyed reducer too: its keys are read, written, listed, time-travelled and deleted on the stream's shard.
  await upsertReducer({ streamId: stream.id, name: 'by-n', code: '(s, e) => ({ seen: s.seen + 1 })', keyBy: '(e) => "n" + e.n', initialState: { seen: 0 } });
  const rw = bearer(await team.key(['ingest', 'read']));
  const manage = bearer(await team.key(['manage']));
  const url = `${web.url}/s/${team.slug}/orders`;
  // Recorded from the processes' start, not reset here: a statement prepared once per connection
  // is parsed (and so seen) only the first time it runs.

  // Append: one by one, a batch, an idempotent repeat; then read-your-writes on the state.
  expect((await postJson(url, { n: 0 }, rw)).status).toBe(201);
  expect((await postJson(`${url}/batch`, [{ n: 1 }, { n: 2 }], rw)).status).toBe(201);
  const keyed = { ...rw, 'idempotency-key': 'order-3' };
  expect((await postJson(url, { n: 3 }, keyed)).status).toBe(201);
  expect((await postJson(url, { n: 3 }, keyed)).status).toBe(200);
  const state = await fetch(`${url}/state/count?after=3`, { headers: rw });
  expect(await state.json()).toBe(4);
  // One key, a page of keys, a key's past and history, the key deleted.
  expect(await (await fetch(`${url}/state/by-n/n1?after=3`, { headers: rw })).json()).toEqual({ seen: 1 });
  expect((await (await fetch(`${url}/state/by-n?prefix=n&limit=2`, { headers: rw })).json()).keys).toHaveLength(2);
  expect(await (await fetch(`${url}/state/by-n/n2?at=2`, { headers: rw })).json()).toEqual({ seen: 1 });
  const trpc = (path: string, input: unknown) => fetch(`${web.url}/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`, { headers: manage });
  for (const path of ['reducer.keyHistory', 'reducer.state']) expect((await trpc(path, { team: team.slug, stream: 'orders', name: 'by-n', key: 'n3' })).status, path).toBe(200);
  for (const path of ['reducer.keys', 'reducer.keyGrowth']) expect((await trpc(path, { team: team.slug, stream: 'orders', name: 'by-n' })).status, path).toBe(200);
  expect((await trpc('team.storage', { team: team.slug })).status).toBe(200);
  expect((await fetch(`${url}/state/by-n/n0`, { method: 'DELETE', headers: manage })).status).toBe(200);
  // Reads by index, slice and length.
  expect(await (await fetch(`${url}/0`, { headers: rw })).json()).toEqual({ n: 0 });
  expect(await (await fetch(`${url}?start=1&end=3`, { headers: rw })).json()).toEqual([{ n: 1 }, { n: 2 }]);
  expect(await (await fetch(`${url}/length`, { headers: rw })).json()).toBe(4);

  // Delivery: four webhooks, each recorded as delivered.
  for (const deadline = Date.now() + 20_000; ; ) {
    const delivered = await db().effect.count({ where: { streamId: stream.id, status: 'delivered' } });
    if (delivered === 4) break;
    if (Date.now() > deadline) throw new Error(`${delivered} of 4 webhooks delivered:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(receiver.at('/hook')).toHaveLength(4);
  // Let the sweeps run at least once, so their statements are checked against the exceptions too.
  await new Promise((r) => setTimeout(r, 800));

  // The stream deleted through the management API, with everything of it, and its keys.
  const deleted = await postJson(`${web.url}/api/trpc/stream.delete`, { json: { team: team.slug, stream: 'orders', confirm: 'orders' } }, manage);
  expect(deleted.status, await deleted.clone().text()).toBe(200);
  expect(await db().event.count({ where: { streamId: stream.id } })).toBe(0);
  expect(await db().effect.count({ where: { streamId: stream.id } })).toBe(0);

  const statements = recorder.statements();
  const touching = statements.filter((sql) => DISTRIBUTED.some((t) => sql.includes(`"${t.table}"`)));
  // The path was really exercised: the append, the fold's commit, the attempt of an effect. The append
  // and the commit are calls of functions whose first argument is the stream, delegated whole on
  // Citus; the statements inside them are checked in tests/integration/citus-readiness.test.ts.
  expect(statements.some((s) => s.startsWith('SELECT pipet_append_events('))).toBe(true);
  expect(statements.some((s) => s.startsWith('SELECT pipet_commit_fold('))).toBe(true);
  expect(statements.some((s) => s.startsWith('SELECT pipet_commit_keyed_fold('))).toBe(true);
  expect(touching.some((s) => s.includes('"public"."EffectAttempt"'))).toBe(true);

  const unexplained = touching
    .filter((sql) => !EXCEPTIONS.some((e) => e.pattern.test(sql)))
    .map((sql) => ({ sql, violations: distributionViolations(sql) }))
    .filter((s) => s.violations.length > 0);
  expect(unexplained, unexplained.map((s) => `${s.violations.join('; ')}\n  ${s.sql}`).join('\n\n')).toEqual([]);
});
