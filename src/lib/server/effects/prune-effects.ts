// Retention of what effects leave behind: settled effects (with their attempts) and outbox emails
// older than the retention period. Pending effects are never pruned.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { deleteInBatches } from '../db/delete-in-batches.ts';

export async function pruneEffects({ olderThanDays, db = defaultDb() }: { olderThanDays: number; db?: DbTx }): Promise<{ effects: number; emails: number }> {
  const cut = new Date(Date.now() - olderThanDays * 86_400_000);
  // nextAttemptAt of a settled effect is its last activity; (status, nextAttemptAt) is indexed.
  // Rows by their whole key; on Citus these are periodic multi-shard deletes (the LIMITed
  // subquery is planned first, then each shard deletes its own rows).
  const effects = await deleteInBatches((limit) => db.$executeRaw`
    DELETE FROM "Effect" WHERE ("streamId", id) IN (
      SELECT "streamId", id FROM "Effect" WHERE status IN ('delivered', 'failed', 'suppressed') AND "nextAttemptAt" < ${cut} LIMIT ${limit})`);
  const emails = await deleteInBatches((limit) => db.$executeRaw`
    DELETE FROM "EmailMessage" WHERE ("teamId", id) IN (SELECT "teamId", id FROM "EmailMessage" WHERE "createdAt" < ${cut} LIMIT ${limit})`);
  return { effects, emails };
}
