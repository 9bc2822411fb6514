// Events per minute over the last hour, per stream, for the sparklines. Event has no index on
// receivedAt (only its (streamId, index) key), but indices are assigned in arrival order, so the
// first index at or after a time can be found by binary search over the key: each stream costs a
// bounded number of primary-key probes, whatever its length.
import { db as defaultDb, type DbTx } from '../db/client.ts';

export type CountEventsPerMinuteOptions = {
  streams: { id: string; length: number; lastEventAt: Date | null }[];
  minutes?: number;
  db?: DbTx;
};

export type EventRate = { streamId: string; perMinute: number[] };

/** Minute starts, oldest first, ending with the current (partial) minute. */
export function minuteStarts(now: Date, minutes: number): Date[] {
  const current = Math.floor(now.getTime() / 60_000) * 60_000;
  return Array.from({ length: minutes }, (_, i) => new Date(current - (minutes - 1 - i) * 60_000));
}

function firstIndexes(stream: { id: string; length: number }, starts: Date[], db: DbTx) {
  return db.$queryRaw<{ sid: string; k: number; lo: number }[]>`
    WITH RECURSIVE
      b(k, t, lo, hi) AS (
        SELECT m.k, m.t, 0, ${stream.length}::int
        FROM unnest(${starts.map((d) => d.toISOString())}::timestamptz[]) WITH ORDINALITY AS m(t, k)
        UNION ALL
        SELECT k, t,
               CASE WHEN probe.before THEN (lo + hi) / 2 + 1 ELSE lo END,
               CASE WHEN probe.before THEN hi ELSE (lo + hi) / 2 END
        FROM b,
        LATERAL (SELECT COALESCE((SELECT e."receivedAt" < b.t FROM "Event" e WHERE e."streamId" = ${stream.id}::uuid AND e."index" = (b.lo + b.hi) / 2), true) AS before) probe
        WHERE lo < hi
      )
    SELECT ${stream.id}::text AS sid, k::int AS k, lo FROM b WHERE lo >= hi`;
}

export async function countEventsPerMinute({ streams, minutes = 60, db = defaultDb() }: CountEventsPerMinuteOptions): Promise<{ minutes: Date[]; rates: EventRate[] }> {
  const [{ now }] = await db.$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
  const starts = minuteStarts(now, minutes);
  const quiet = (s: CountEventsPerMinuteOptions['streams'][number]) => s.length === 0 || !s.lastEventAt || s.lastEventAt < starts[0];
  const busy = streams.filter((s) => !quiet(s));
  const rates = new Map<string, number[]>(streams.map((s) => [s.id, new Array(minutes).fill(0)]));
  if (busy.length) {
    // For each (stream, minute start): the first index received at or after it, by binary search
    // in [0, length) — about log2(length) key lookups each, one recursive statement per stream.
    // Per stream, with its id a constant: on Citus each statement runs whole on the stream's shard
    // (a recursive CTE over a distributed table is refused unless it is single-shard).
    const firstIndex = new Map<string, number>();
    for (let i = 0; i < busy.length; i += 8) {
      const rows = await Promise.all(busy.slice(i, i + 8).map((s) => firstIndexes(s, starts, db)));
      for (const r of rows.flat()) firstIndex.set(`${r.sid}:${r.k}`, r.lo);
    }
    for (const s of busy) {
      const counts = rates.get(s.id)!;
      for (let k = 1; k <= minutes; k++) {
        const from = firstIndex.get(`${s.id}:${k}`) ?? s.length;
        const to = k < minutes ? (firstIndex.get(`${s.id}:${k + 1}`) ?? s.length) : s.length;
        counts[k - 1] = Math.max(0, to - from);
      }
    }
  }
  return { minutes: starts, rates: streams.map((s) => ({ streamId: s.id, perMinute: rates.get(s.id)! })) };
}
