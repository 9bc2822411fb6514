// How a keyed reducer's live keys grew: the keys of its live lineage, counted by when each was first
// seen (KeyedState."createdAt") and summed up to each time bucket. One aggregate statement pinned to
// (stream, reducer, lineage): a range scan of the primary key, on one shard.
import { sql } from '../db/client.ts';
import type { KeyScope } from './read-keys.ts';

export const MAX_BUCKETS = 100;
const HOUR = 3600;
const DAY = 24 * HOUR;

export type KeyGrowth = { bucketSeconds: number; buckets: { start: Date; keys: number }[] };

/**
 * Hours while the keys span at most MAX_BUCKETS hours, else days (several a bucket past MAX_BUCKETS
 * days). The scan groups by hour first, so the bucket size is chosen from those few rows, not from
 * a second pass over the keys. `createdAt` is written by the column's default (the session's local
 * time), so "now" is LOCALTIMESTAMP, its like.
 */
export async function readKeyGrowth({ streamId, reducerId, lineage }: KeyScope): Promise<KeyGrowth> {
  const rows = await sql<{ start: number; keys: number; secs: number; now: number }>(
    `WITH hours AS (
       SELECT date_trunc('hour', "createdAt") AS h, count(*) AS n FROM "KeyedState"
       WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3
       GROUP BY 1
     ), w AS (
       SELECT CASE WHEN LOCALTIMESTAMP - min(h) <= make_interval(hours => $4::int) THEN ${HOUR}
                   ELSE ${DAY} * greatest(1, ceil(extract(epoch FROM LOCALTIMESTAMP - min(h)) / (${DAY} * $4::int)))::int END AS secs
       FROM hours
     )
     SELECT b.start::float8 AS start, (sum(b.n) OVER (ORDER BY b.start))::int AS keys, b.secs, extract(epoch FROM LOCALTIMESTAMP)::float8 AS now
     FROM (SELECT floor(extract(epoch FROM hours.h) / w.secs) * w.secs AS start, sum(hours.n) AS n, w.secs FROM hours, w GROUP BY 1, 3) b
     ORDER BY b.start`,
    [streamId, reducerId, lineage, MAX_BUCKETS],
  );
  return fillBuckets(rows);
}

/** Every bucket from the first key's to the current one, empty buckets carrying the count before them. */
export function fillBuckets(rows: { start: number; keys: number; secs: number; now: number }[]): KeyGrowth {
  if (rows.length === 0) return { bucketSeconds: HOUR, buckets: [] };
  const secs = rows[0].secs;
  const last = Math.max(rows[rows.length - 1].start, Math.floor(rows[0].now / secs) * secs);
  const buckets: KeyGrowth['buckets'] = [];
  let keys = 0;
  let next = 0;
  for (let start = rows[0].start; start <= last && buckets.length <= MAX_BUCKETS + 1; start += secs) {
    if (next < rows.length && rows[next].start === start) keys = rows[next++].keys;
    buckets.push({ start: new Date(start * 1000), keys });
  }
  return { bucketSeconds: secs, buckets };
}
