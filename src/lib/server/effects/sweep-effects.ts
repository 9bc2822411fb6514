// The effects step of the periodic sweep: every pending effect whose attempt is due gets its job
// back, so Redis losing its data, a restart, or a worker dying mid-attempt loses nothing.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { reEnqueueEffect } from './enqueue-effect.ts';

export type SweepEffectsOptions = { db?: DbTx; limit?: number };

/**
 * Enqueues due pending effects (oldest first, `limit` per sweep): on Citus a query of every shard,
 * ordered and limited on each and merged (periodic, not on any request's path). Job ids name the attempt, so an
 * effect whose job is still waiting in the queue is not enqueued twice. Returns how many were due.
 */
export async function sweepEffects({ db = defaultDb(), limit = 1000 }: SweepEffectsOptions = {}): Promise<number> {
  const due = await db.effect.findMany({
    where: { status: 'pending', nextAttemptAt: { lte: new Date() } },
    select: { id: true, teamId: true, streamId: true, kind: true, nextAttemptAt: true, attempts: true },
    orderBy: { nextAttemptAt: 'asc' },
    take: limit,
  });
  for (let i = 0; i < due.length; i += 50) await Promise.all(due.slice(i, i + 50).map(reEnqueueEffect));
  return due.length;
}
