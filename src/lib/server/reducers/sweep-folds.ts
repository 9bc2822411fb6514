import { db as defaultDb, type Db } from '../db/client.ts';
import { wakeFold } from '../queue/enqueue.ts';

/**
 * Wakes the fold for every stream with an active reducer behind its stream (or replaying). Reads
 * every shard on Citus (a periodic sweep), its joins on the distribution column pushed down whole.
 */
export async function sweepFolds(db: Db = defaultDb()): Promise<number> {
  const rows = await db.$queryRaw<{ streamId: string; teamId: string }[]>`
    SELECT DISTINCT r."streamId", s."teamId" FROM "Reducer" r
    JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id JOIN "Stream" s ON s.id = r."streamId"
    WHERE r.enabled AND rs.status = 'active' AND (rs.cursor < s.length OR rs."replayVersion" IS NOT NULL)`;
  await Promise.all(rows.map((r) => wakeFold(r)));
  return rows.length;
}
