import { db as defaultDb, type DbTx } from '../db/client.ts';

/** Deletes invites that ended (accepted, revoked or expired) more than `olderThanDays` ago. */
export async function pruneInvites({ olderThanDays, db = defaultDb() }: { olderThanDays: number; db?: DbTx }): Promise<number> {
  const cut = new Date(Date.now() - olderThanDays * 86_400_000);
  const { count } = await db.invite.deleteMany({ where: { OR: [{ acceptedAt: { lt: cut } }, { revokedAt: { lt: cut } }, { expiresAt: { lt: cut } }] } });
  return count;
}
