// The app's two reads about keyed state: a reducer's live keys over time (cumulative per hour or
// day, at most ~100 buckets, from one statement) and the team's keys with their approximate bytes
// (measured on a bounded sample of each reducer's keys).
import { beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam, uniqueSlug, makeStream } from '../helpers/context.ts';

await useOwnDatabase('key_growth');
const { db, sql } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { deleteKey } = await import('../../src/lib/server/reducers/delete-key.ts');
const { readKeyGrowth, MAX_BUCKETS } = await import('../../src/lib/server/reducers/read-key-growth.ts');
const { readKeyedStorage, SAMPLE_KEYS } = await import('../../src/lib/server/teams/read-keyed-storage.ts');
const { closeSandbox } = await import('../../src/lib/server/reducers/sandbox/index.ts');

const HOUR = 3600;
const DAY = 24 * HOUR;
let teamId: string;
beforeAll(async () => {
  teamId = (await makeTeam(db())).id;
  return () => closeSandbox();
});

/** A stream with one event per user and a keyed reducer folded over it. */
async function keyed(users: string[], name = 'users') {
  const stream = await makeStream(db(), { teamId, slug: uniqueSlug('g'), name: 'g' });
  await appendEvents({ streamId: stream.id, bodies: users.map((user) => ({ user, note: 'x'.repeat(40) })) });
  const { reducer } = await upsertReducer({ streamId: stream.id, name, code: '(s, e) => ({ n: s.n + 1, note: e.note })', keyBy: '(e) => e.user', initialState: { n: 0 } });
  while ((await foldStream({ streamId: stream.id, timeBudgetMs: 60_000 })).more);
  return { streamId: stream.id, reducerId: reducer.id, lineage: 1 };
}

/** Moves keys' first-seen time back, as if they had been seen that long ago. */
async function age(scope: { streamId: string; reducerId: string }, keys: string[], seconds: number) {
  await sql(`UPDATE "KeyedState" SET "createdAt" = LOCALTIMESTAMP - make_interval(secs => $3) WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND key = ANY($4::text[])`, [
    scope.streamId,
    scope.reducerId,
    seconds,
    keys,
  ]);
}

const counts = (g: { buckets: { keys: number }[] }) => g.buckets.map((b) => b.keys);
const nonDecreasing = (xs: number[]) => xs.every((x, i) => i === 0 || x >= xs[i - 1]);

describe('key growth', () => {
  it('counts keys per hour while they span at most 100 hours, cumulative, empty hours carrying the count', async () => {
    const scope = await keyed(['a', 'b', 'c', 'd']);
    const fresh = await readKeyGrowth(scope);
    expect(fresh.bucketSeconds).toBe(HOUR);
    expect(counts(fresh)).toEqual([4]);

    await age(scope, ['a'], 5 * HOUR);
    await age(scope, ['b', 'c'], 2 * HOUR);
    const g = await readKeyGrowth(scope);
    expect(g.bucketSeconds).toBe(HOUR);
    // From a's hour to the current one: 1 key, 1 (an empty hour), 3, 3, 3, 4 — give or take the hour boundary.
    expect(g.buckets.length).toBeGreaterThanOrEqual(6);
    expect(g.buckets.length).toBeLessThanOrEqual(7);
    expect(g.buckets[0].keys).toBe(1);
    expect(g.buckets.at(-1)!.keys).toBe(4);
    expect(new Set(counts(g))).toEqual(new Set([1, 3, 4]));
    expect(nonDecreasing(counts(g))).toBe(true);
    for (let i = 1; i < g.buckets.length; i++) expect(g.buckets[i].start.getTime() - g.buckets[i - 1].start.getTime()).toBe(HOUR * 1000);
  });

  it('switches to days past 100 hours, and to several days a bucket past 100 days, never past ~100 buckets', async () => {
    const scope = await keyed(['a', 'b', 'c']);
    await age(scope, ['a'], 10 * DAY);
    const days = await readKeyGrowth(scope);
    expect(days.bucketSeconds).toBe(DAY);
    expect(days.buckets.length).toBeGreaterThanOrEqual(11);
    expect(days.buckets.length).toBeLessThanOrEqual(12);
    expect(days.buckets[0]).toMatchObject({ keys: 1 });
    expect(days.buckets[0].start.getTime() % (DAY * 1000)).toBe(0);
    expect(days.buckets.at(-1)!.keys).toBe(3);

    await age(scope, ['b'], 400 * DAY);
    const long = await readKeyGrowth(scope);
    expect(long.bucketSeconds).toBe(5 * DAY);
    expect(long.buckets.length).toBeLessThanOrEqual(MAX_BUCKETS + 1);
    expect(long.buckets[0].keys).toBe(1);
    expect(long.buckets.at(-1)!.keys).toBe(3);
    expect(nonDecreasing(counts(long))).toBe(true);
  });

  it('counts live keys only: a deleted key leaves the curve', async () => {
    const scope = await keyed(['a', 'b']);
    await deleteKey({ ...scope, key: 'a' });
    expect(counts(await readKeyGrowth(scope))).toEqual([1]);
    await deleteKey({ ...scope, key: 'b' });
    expect(await readKeyGrowth(scope)).toEqual({ bucketSeconds: HOUR, buckets: [] });
  });
});

describe("the team's keyed storage", () => {
  it('sums the key counts, and estimates bytes from the sampled keys (exact when every key is sampled)', async () => {
    const { id: otherTeam } = await makeTeam(db());
    const before = await readKeyedStorage({ teamId: otherTeam });
    expect(before).toEqual({ keys: 0, bytes: 0, sampledKeys: 0, reducers: [] });

    await keyed(['a', 'b'], 'small');
    const large = await keyed(Array.from({ length: 30 }, (_, i) => `user-${i}`), 'large');
    const storage = await readKeyedStorage({ teamId });
    const mine = storage.reducers.filter((r) => r.name === 'small' || r.name === 'large');
    expect(mine.map((r) => [r.name, r.keys])).toEqual([
      ['large', 30],
      ['small', 2],
    ]);
    const [exact] = await sql<{ bytes: number }>(
      `SELECT sum(pg_column_size(state) + pg_column_size(key))::float8 AS bytes FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`,
      [large.streamId, large.reducerId],
    );
    expect(mine[0].bytes).toBe(exact.bytes);
    expect(mine[1].bytes).toBeGreaterThan(0);
    expect(storage.keys).toBe(storage.reducers.reduce((n, r) => n + r.keys, 0));
    expect(storage.bytes).toBe(storage.reducers.reduce((n, r) => n + r.bytes, 0));
    // An unkeyed reducer holds no keys and is not listed.
    const plain = await makeStream(db(), { teamId, slug: uniqueSlug('p'), name: 'p' });
    await upsertReducer({ streamId: plain.id, name: 'plain', code: '(n) => n + 1', initialState: 0 });
    expect((await readKeyedStorage({ teamId })).reducers.some((r) => r.name === 'plain')).toBe(false);
  });

  it('reads at most SAMPLE_KEYS keys of a reducer, and scales their average by its key count', async () => {
    const { id: own } = await makeTeam(db());
    const stream = await makeStream(db(), { teamId: own, slug: uniqueSlug('big'), name: 'big' });
    await appendEvents({ streamId: stream.id, bodies: Array.from({ length: SAMPLE_KEYS + 200 }, (_, i) => ({ user: `user-${String(i).padStart(5, '0')}` })) });
    const { reducer } = await upsertReducer({ streamId: stream.id, name: 'big', code: '(s) => ({ n: s.n + 1 })', keyBy: '(e) => e.user', initialState: { n: 0 } });
    while ((await foldStream({ streamId: stream.id, timeBudgetMs: 60_000 })).more);
    const storage = await readKeyedStorage({ teamId: own });
    expect(storage).toMatchObject({ keys: SAMPLE_KEYS + 200, sampledKeys: SAMPLE_KEYS });
    const [exact] = await sql<{ bytes: number }>(`SELECT sum(pg_column_size(state) + pg_column_size(key))::float8 AS bytes FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid`, [
      stream.id,
      reducer.id,
    ]);
    // Keys and states of one size: the estimate is the exact figure.
    expect(storage.bytes).toBe(exact.bytes);
  });
});

describe('reads whose cost grows with the keys', () => {
  it('are limited per team: the 31st key-growth chart or storage estimate in a minute is refused', async () => {
    const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
    const { createContext } = await import('../../src/lib/server/trpc/context.ts');
    const team = await makeTeam(db());
    const stream = await makeStream(db(), { teamId: team.id, slug: uniqueSlug('lim'), name: 'lim' });
    await upsertReducer({ streamId: stream.id, name: 'users', code: '(s) => s', keyBy: '(e) => e.user', initialState: {} });
    const api = createCaller(await createContext({ authorization: `Bearer ${await team.key(['manage'])}` }));
    const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code: string }) => e.code);
    const input = { team: team.slug, stream: stream.slug, name: 'users' };
    for (let i = 0; i < 30; i++) expect(await code(api.reducer.keyGrowth(input))).toBe('ok');
    expect(await code(api.reducer.keyGrowth(input))).toBe('TOO_MANY_REQUESTS');
    for (let i = 0; i < 30; i++) expect(await code(api.team.storage({ team: team.slug }))).toBe('ok');
    expect(await code(api.team.storage({ team: team.slug }))).toBe('TOO_MANY_REQUESTS');
  });
});
