// Retry by hand: failed effects become pending and due now, one more attempt each.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { enqueueEffects } from './enqueue-effect.ts';

export type RetryEffectsOptions = { teamId: string; effectId?: string; streamId?: string; reducerId?: string; db?: DbTx };

/**
 * Makes the team's failed effects (one, or all of a reducer) pending again and enqueues them. A
 * retried effect gets one new attempt; if that fails too it is failed again (with that reason).
 */
export async function retryEffects({ teamId, effectId, streamId, reducerId, db = defaultDb() }: RetryEffectsOptions): Promise<{ retried: string[] }> {
  // By id alone (what receivers and the UI show) this reads every shard on Citus: a management action.
  const where = { teamId, status: 'failed' as const, ...(effectId ? { id: effectId } : {}), ...(streamId ? { streamId } : {}), ...(reducerId ? { reducerId } : {}) };
  const failed = await db.effect.findMany({ where, select: { id: true, teamId: true, streamId: true, kind: true, attempts: true } });
  if (failed.length === 0) return { retried: [] };
  const now = new Date();
  await db.effect.updateMany({ where: { ...where, id: { in: failed.map((e) => e.id) } }, data: { status: 'pending', nextAttemptAt: now } });
  await enqueueEffects(failed.map((e) => ({ ...e, nextAttemptAt: now })));
  return { retried: failed.map((e) => e.id) };
}
