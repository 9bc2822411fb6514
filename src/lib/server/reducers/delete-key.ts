// Forgetting one key of a keyed reducer (a user who asked to be forgotten): its state, its history
// and its pending timers, in the live lineage and in a replay's. The keys epoch is bumped first, under
// the reducer's state row lock, so a fold that read this key before the delete fails its commit
// guard and folds again without it, instead of writing the forgotten state back.
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { wakeFold } from '../queue/enqueue.ts';

export async function deleteKey({ streamId, reducerId, key, db = defaultDb() }: { streamId: string; reducerId: string; key: string; db?: Db }): Promise<{ key: string; timersCancelled: number }> {
  const done = await db.$transaction(async (tx) => {
    const [rs] = await tx.$queryRaw<{ lineage: number; replayVersion: number | null }[]>`
      UPDATE "ReducerState" SET "keysEpoch" = "keysEpoch" + 1 WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducerId}::uuid
      RETURNING lineage, "replayVersion"`;
    if (!rs) throw new AppError('not_found', 'No such reducer.');
    // By lineage too, so each delete is a primary-key lookup (older lineages are pruned anyway).
    const lineages = rs.replayVersion === null ? [rs.lineage] : [rs.lineage, rs.replayVersion];
    const gone = await tx.$queryRaw<{ lineage: number }[]>`
      DELETE FROM "KeyedState" WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducerId}::uuid AND lineage = ANY(${lineages}::int[]) AND key = ${key} RETURNING lineage`;
    if (gone.length === 0) throw new AppError('not_found', `No key \`${key}\`: this reducer has never seen it (or it was deleted).`);
    const live = gone.some((g) => g.lineage === rs.lineage) ? 1 : 0;
    const replay = gone.some((g) => g.lineage === rs.replayVersion) ? 1 : 0;
    await tx.$executeRaw`
      UPDATE "ReducerState" SET "keyCount" = GREATEST(0, "keyCount" - ${live}), "replayKeyCount" = GREATEST(0, "replayKeyCount" - ${replay})
      WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducerId}::uuid`;
    await tx.$executeRaw`DELETE FROM "KeyedChange" WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducerId}::uuid AND lineage = ANY(${lineages}::int[]) AND key = ${key}`;
    const timersCancelled = await tx.$executeRaw`
      UPDATE "Effect" SET status = 'cancelled', "lastError" = 'its key was deleted'
      WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${reducerId}::uuid AND "stateKey" = ${key} AND kind = 'timer' AND status = 'pending'`;
    return { key, timersCancelled, teamId: (await tx.stream.findUniqueOrThrow({ where: { id: streamId }, select: { teamId: true } })).teamId };
  });
  // A fold that lost its commit to this delete folds again now, not at the next sweep (best effort).
  await wakeFold({ streamId, teamId: done.teamId }).catch(() => {});
  return { key: done.key, timersCancelled: done.timersCancelled };
}
