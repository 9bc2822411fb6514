// The team's keyed state at a glance: the keys its keyed reducers hold (ReducerState.keyCount, kept
// by the fold) and about how many bytes they take. Bytes are estimated, never counted: each reducer's
// first SAMPLE_KEYS live keys are measured (one primary-key range on its stream's shard) and their
// average scaled by its key count, so a page load reads a bounded number of rows however many keys.
import { db as defaultDb, type DbTx } from '../db/client.ts';

export const SAMPLE_KEYS = 1000;
/** The largest reducers are sampled; the rest are estimated at the sampled average per key. */
export const MAX_SAMPLED_REDUCERS = 100;

export type ReadKeyedStorageOptions = { teamId: string; db?: DbTx };
export type KeyedStorage = {
  keys: number;
  bytes: number;
  sampledKeys: number;
  reducers: { stream: string; name: string; keys: number; bytes: number }[];
};

type Sample = { n: number; bytes: number };

function sample(db: DbTx, r: { streamId: string; reducerId: string; lineage: number }) {
  return db.$queryRaw<Sample[]>`
    SELECT count(*)::int AS n, coalesce(sum(coalesce(pg_column_size(s.state), 0) + pg_column_size(s.key)), 0)::float8 AS bytes
    FROM (SELECT state, key FROM "KeyedState" WHERE "streamId" = ${r.streamId}::uuid AND "reducerId" = ${r.reducerId}::uuid AND lineage = ${r.lineage} LIMIT ${SAMPLE_KEYS}) s`;
}

export async function readKeyedStorage({ teamId, db = defaultDb() }: ReadKeyedStorageOptions): Promise<KeyedStorage> {
  // A management fan-out by team (like stream.list): the keyed reducers of every stream of the team.
  const found = await db.reducer.findMany({
    where: { stream: { teamId }, keyBy: { not: null } },
    select: { id: true, name: true, streamId: true, stream: { select: { slug: true } }, state: { select: { lineage: true, keyCount: true } } },
  });
  const reducers = found
    .map((r) => ({ streamId: r.streamId, reducerId: r.id, stream: r.stream.slug, name: r.name, lineage: r.state?.lineage ?? 1, keys: r.state?.keyCount ?? 0 }))
    .sort((a, b) => b.keys - a.keys || a.stream.localeCompare(b.stream) || a.name.localeCompare(b.name));
  const sampled = reducers.filter((r) => r.keys > 0).slice(0, MAX_SAMPLED_REDUCERS);
  const perKey = new Map<string, number>();
  let sampledKeys = 0;
  let sampledBytes = 0;
  // One statement per reducer, each on its stream's shard, a few at a time.
  for (let i = 0; i < sampled.length; i += 8) {
    const batch = sampled.slice(i, i + 8);
    const rows = await Promise.all(batch.map((r) => sample(db, r)));
    batch.forEach((r, j) => {
      const [{ n, bytes }] = rows[j];
      if (n > 0) perKey.set(r.reducerId, bytes / n);
      sampledKeys += n;
      sampledBytes += bytes;
    });
  }
  const average = sampledKeys > 0 ? sampledBytes / sampledKeys : 0;
  const out = reducers.map((r) => ({ stream: r.stream, name: r.name, keys: r.keys, bytes: Math.round(r.keys * (perKey.get(r.reducerId) ?? average)) }));
  return { keys: out.reduce((n, r) => n + r.keys, 0), bytes: out.reduce((n, r) => n + r.bytes, 0), sampledKeys, reducers: out };
}
