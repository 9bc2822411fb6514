// Keyed rows left behind: when a replay takes over, the old lineage's KeyedState and KeyedChange
// rows are no longer read (nor are an abandoned replay's). They are deleted here, a thousand rows a
// statement, each statement a primary-key range within one reducer (one shard on Citus). A reducer
// with nothing to prune costs an empty index probe per range.
import { sql } from '../db/client.ts';
import { deleteInBatches } from '../db/delete-in-batches.ts';

type Tracks = { streamId: string; reducerId: string; lineage: number; replayVersion: number | null };

/** The lineage ranges (exclusive bounds) that are neither live nor the replay's. */
export function staleRanges(live: number, replay: number | null): [number, number][] {
  const keep = [live, ...(replay !== null && replay !== live ? [replay] : [])].sort((a, b) => a - b);
  const ranges: [number, number][] = [];
  let from = -1;
  for (const k of keep) {
    ranges.push([from, k]);
    from = k;
  }
  ranges.push([from, 2 ** 31 - 1]);
  return ranges;
}

async function pruneTable(table: 'KeyedState' | 'KeyedChange', t: Tracks, [above, below]: [number, number], maxBatches: number): Promise<number> {
  const key = table === 'KeyedState' ? 'key' : 'key, "index"';
  const match = table === 'KeyedState' ? 'k.key = d.key' : 'k.key = d.key AND k."index" = d."index"';
  return deleteInBatches(async (limit) => {
    const [row] = await sql<{ n: number }>(
      `WITH d AS (
         SELECT lineage, ${key} FROM "${table}" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage > $3 AND lineage < $4 LIMIT $5),
       gone AS (
         DELETE FROM "${table}" k USING d WHERE k."streamId" = $1::uuid AND k."reducerId" = $2::uuid AND k.lineage = d.lineage AND ${match} RETURNING 1)
       SELECT count(*)::int AS n FROM gone`,
      [t.streamId, t.reducerId, above, below, limit],
    );
    return row?.n ?? 0;
  }, 1_000, maxBatches);
}

/** Deletes up to about `maxBatches` thousand stale rows per table and reducer; how many it deleted. */
export async function pruneKeyLineages({ maxBatches = 100 }: { maxBatches?: number } = {}): Promise<number> {
  // A reducer still at version 1 has only ever had lineage 1: only the others can have rows to prune.
  const tracks = await sql<Tracks>(`SELECT "streamId", "reducerId", lineage, "replayVersion" FROM "ReducerState" WHERE version > 1 OR "replayVersion" IS NOT NULL`);
  let total = 0;
  for (const t of tracks) {
    for (const range of staleRanges(t.lineage, t.replayVersion)) {
      total += await pruneTable('KeyedState', t, range, maxBatches);
      total += await pruneTable('KeyedChange', t, range, maxBatches);
    }
  }
  return total;
}
