import { db as defaultDb, type DbTx } from '../db/client.ts';
import { deleteInBatches } from '../db/delete-in-batches.ts';

/** Deletes expired sessions (their cookies no longer sign anyone in anyway). */
export async function pruneSessions({ db = defaultDb() }: { db?: DbTx } = {}): Promise<number> {
  return deleteInBatches((limit) => db.$executeRaw`
    DELETE FROM "Session" WHERE id IN (SELECT id FROM "Session" WHERE "expiresAt" < now() LIMIT ${limit})`);
}
