// How far each reducer of a stream has folded, stamped with the database's clock: the UI polls
// this and turns successive readings into fold rates, lag over time and a replay's ETA.
import { db as defaultDb, type DbTx } from '../db/client.ts';

export type ReadReducerProgressOptions = { streamId: string; db?: DbTx };

export async function readReducerProgress({ streamId, db = defaultDb() }: ReadReducerProgressOptions) {
  const [stream, [{ now }]] = await Promise.all([
    db.stream.findUniqueOrThrow({
      where: { id: streamId },
      select: { length: true, reducers: { select: { name: true, version: true, state: { select: { cursor: true, status: true, replayVersion: true, replayCursor: true, replayUntil: true } } }, orderBy: { name: 'asc' } } },
    }),
    db.$queryRaw<{ now: Date }[]>`SELECT now() AS now`,
  ]);
  return {
    at: now,
    length: stream.length,
    reducers: stream.reducers.map((r) => {
      const s = r.state;
      const folded = s?.cursor ?? 0;
      return {
        name: r.name,
        version: r.version,
        status: s?.status ?? 'active',
        folded,
        lag: Math.max(0, stream.length - folded),
        replay: s?.replayVersion != null ? { version: s.replayVersion, folded: s.replayCursor ?? 0, until: s.replayUntil ?? 0 } : null,
      };
    }),
  };
}
