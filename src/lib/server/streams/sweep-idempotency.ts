import { db as defaultDb, type DbTx } from '../db/client.ts';
import { IDEMPOTENCY_WINDOW_MS } from './append-events.ts';

/** Forgets Idempotency-Key answers older than the 24-hour window. */
export async function sweepIdempotency(db: DbTx = defaultDb()): Promise<number> {
  const { count } = await db.idempotencyRecord.deleteMany({ where: { createdAt: { lt: new Date(Date.now() - IDEMPOTENCY_WINDOW_MS) } } });
  return count;
}
