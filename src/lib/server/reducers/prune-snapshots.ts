// Bounded storage for time travel: per reducer, the newest snapshots are kept up to
// REDUCER_SNAPSHOTS_MAX of them and REDUCER_SNAPSHOT_BYTES_MAX of state; older ones are deleted (a
// state that far back is then folded from the oldest snapshot left).
import { sql } from '../db/client.ts';

export async function pruneSnapshots({ max, maxBytes }: { max: number; maxBytes: number }): Promise<number> {
  const rows = await sql<{ n: number }>(
    `WITH ranked AS (
       SELECT "streamId", "reducerId", version, folded,
              row_number() OVER w AS n, sum(pg_column_size(state)) OVER w AS bytes
       FROM "ReducerSnapshot" WINDOW w AS (PARTITION BY "streamId", "reducerId" ORDER BY folded DESC, version DESC)
     ), gone AS (
       DELETE FROM "ReducerSnapshot" s USING ranked r
       WHERE s."streamId" = r."streamId" AND s."reducerId" = r."reducerId" AND s.version = r.version AND s.folded = r.folded
         AND (r.n > $1 OR r.bytes > $2)
       RETURNING 1)
     SELECT count(*)::int AS n FROM gone`,
    [max, maxBytes],
  );
  return rows[0]?.n ?? 0;
}
