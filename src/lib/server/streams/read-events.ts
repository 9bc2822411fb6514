// Reads by index and by slice: primary-key lookups and range scans on (streamId, index), straight
// on the pg pool. Bodies come back as jsonb text so they are passed through without a
// parse/serialize round trip.
import { sql } from '../db/client.ts';

export type StoredEvent = { index: number; bodyJson: string; receivedAt: Date };

export async function readEvent({ streamId, index }: { streamId: string; index: number }): Promise<StoredEvent | null> {
  const rows = await sql<StoredEvent>(`SELECT "index", body::text AS "bodyJson", "receivedAt" FROM "Event" WHERE "streamId" = $1::uuid AND "index" = $2`, [streamId, index]);
  return rows[0] ?? null;
}

/** Events with start <= index < end, in index order. */
export async function readEvents({ streamId, start, end }: { streamId: string; start: number; end: number }): Promise<StoredEvent[]> {
  if (end <= start) return [];
  return sql<StoredEvent>(
    `SELECT "index", body::text AS "bodyJson", "receivedAt" FROM "Event" WHERE "streamId" = $1::uuid AND "index" >= $2 AND "index" < $3 ORDER BY "index"`,
    [streamId, start, end],
  );
}

export async function streamLength({ streamId }: { streamId: string }): Promise<number | null> {
  const rows = await sql<{ length: number }>(`SELECT length FROM "Stream" WHERE id = $1::uuid`, [streamId]);
  return rows[0]?.length ?? null;
}
