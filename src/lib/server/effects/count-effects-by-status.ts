// Effects created per time bucket, by their current status, for the effects page's chart: one
// range scan of the (teamId, createdAt) index over the window.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { EFFECT_STATUSES, type EffectStatus } from '../../schemas/vocabulary.ts';

export type CountEffectsByStatusOptions = { teamId: string; hours: number; buckets: number; db?: DbTx };
export type EffectBucket = { start: Date } & Record<EffectStatus, number>;

export async function countEffectsByStatus({ teamId, hours, buckets, db = defaultDb() }: CountEffectsByStatusOptions): Promise<{ bucketSeconds: number; buckets: EffectBucket[] }> {
  const bucketSeconds = Math.max(60, Math.round((hours * 3600) / buckets));
  const rows = await db.$queryRaw<{ bucket: number; status: EffectStatus; n: number; end: Date }[]>`
    WITH w AS (SELECT to_timestamp(ceil(extract(epoch FROM now()) / ${bucketSeconds}) * ${bucketSeconds}) AS end)
    SELECT floor(extract(epoch FROM (w.end - e."createdAt")) / ${bucketSeconds})::int AS bucket, e.status::text AS status, count(*)::int AS n, w.end AS end
    FROM "Effect" e, w
    WHERE e."teamId" = ${teamId}::uuid AND e."createdAt" > w.end - make_interval(secs => ${bucketSeconds * buckets})
    GROUP BY 1, 2, w.end`;
  const [{ now }] = rows.length ? [{ now: rows[0].end }] : await db.$queryRaw<{ now: Date }[]>`SELECT to_timestamp(ceil(extract(epoch FROM now()) / ${bucketSeconds}) * ${bucketSeconds}) AS now`;
  const end = new Date(now).getTime();
  const out: EffectBucket[] = Array.from({ length: buckets }, (_, i) => ({
    start: new Date(end - (buckets - i) * bucketSeconds * 1000),
    ...(Object.fromEntries(EFFECT_STATUSES.map((s) => [s, 0])) as Record<EffectStatus, number>),
  }));
  for (const r of rows) {
    const i = buckets - 1 - r.bucket;
    if (i >= 0 && i < buckets) out[i][r.status] += r.n;
  }
  return { bucketSeconds, buckets: out };
}
