// Reads by index and by slice: primary-key lookups and range scans on (streamId, index).
// Bodies come back as jsonb text so they are passed through without a parse/serialize round trip.
import { db as defaultDb, type DbTx } from '../db/client.ts';

export type StoredEvent = { index: number; bodyJson: string; receivedAt: Date };

export async function readEvent({ streamId, index, db = defaultDb() }: { streamId: string; index: number; db?: DbTx }): Promise<StoredEvent | null> {
  const rows = await db.$queryRaw<StoredEvent[]>`
    SELECT "index", body::text AS "bodyJson", "receivedAt" FROM "Event"
    WHERE "streamId" = ${streamId}::uuid AND "index" = ${index}`;
  return rows[0] ?? null;
}

/** Events with start <= index < end, in index order. */
export async function readEvents({ streamId, start, end, db = defaultDb() }: { streamId: string; start: number; end: number; db?: DbTx }): Promise<StoredEvent[]> {
  if (end <= start) return [];
  return db.$queryRaw<StoredEvent[]>`
    SELECT "index", body::text AS "bodyJson", "receivedAt" FROM "Event"
    WHERE "streamId" = ${streamId}::uuid AND "index" >= ${start} AND "index" < ${end}
    ORDER BY "index"`;
}

export async function streamLength({ streamId, db = defaultDb() }: { streamId: string; db?: DbTx }): Promise<number | null> {
  const stream = await db.stream.findUnique({ where: { id: streamId }, select: { length: true } });
  return stream?.length ?? null;
}
