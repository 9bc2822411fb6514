// Reads by index and by slice: primary-key lookups and range scans on (streamId, index), straight
// on the pg pool. Bodies come back as jsonb text so they are passed through without a
// parse/serialize round trip.
import { sql } from '../db/client.ts';
import { env } from '../env.ts';
import { createSemaphore } from '../semaphore.ts';
import { cutSlice, nextChunkCount } from './slice-range.ts';

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

/** Chunk reads of slices in flight in this process: the rest of the database pool stays free for appends. */
const sliceReads = createSemaphore(() => env().SLICE_READS_PER_PROCESS);

/**
 * Where a slice from `start` must end for its JSON (bodies and commas) to stay within `maxBytes`.
 * PostgreSQL stops scanning at the first event past the bound, so this costs at most the bound.
 */
export async function sliceEndWithin({ streamId, start, end, maxBytes }: { streamId: string; start: number; end: number; maxBytes: number }): Promise<number> {
  if (end <= start + 1) return end;
  const release = await sliceReads.acquire();
  try {
    const rows = await sql<{ index: number }>(
      `SELECT "index" FROM (
         SELECT "index", sum(octet_length(body::text) + 1) OVER (ORDER BY "index" ROWS UNBOUNDED PRECEDING) AS running
         FROM "Event" WHERE "streamId" = $1::uuid AND "index" >= $2 AND "index" < $3
       ) t WHERE running > $4 ORDER BY "index" LIMIT 1`,
      [streamId, start, end, maxBytes],
    );
    return cutSlice(start, end, rows[0]?.index ?? null);
  } finally {
    release();
  }
}

/**
 * Events with start <= index < end in chunks of about `chunkBytes`, each read when the consumer
 * asks for it: a slice being written out holds one chunk in memory and no database connection.
 */
export async function* readEventChunks({ streamId, start, end, chunkBytes = 1024 * 1024, signal }: { streamId: string; start: number; end: number; chunkBytes?: number; signal?: AbortSignal }): AsyncGenerator<StoredEvent[]> {
  let from = start;
  let bytes = 0;
  while (from < end && !signal?.aborted) {
    const count = nextChunkCount({ read: from - start, bytes, left: end - from, targetBytes: chunkBytes });
    const release = await sliceReads.acquire(signal);
    let rows: StoredEvent[];
    try {
      rows = await readEvents({ streamId, start: from, end: from + count });
    } finally {
      release();
    }
    if (rows.length === 0) return;
    for (const row of rows) bytes += row.bodyJson.length;
    from = rows[rows.length - 1].index + 1;
    yield rows;
  }
}
