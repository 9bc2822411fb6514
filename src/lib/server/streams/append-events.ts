// The one append path. JSON, forms, text, batches, timers and recipes all come through here:
// assign dense indices under the stream's row lock, insert, bump the length, commit — and only
// then wake the fold queue and the live tails.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { wakeFold } from '../queue/enqueue.ts';
import { publishAppended } from './tail-events.ts';
import { jsonProblem } from './check-json.ts';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

export type AppendEventsOptions = {
  streamId: string;
  /** Values to append, in order. Each must be JSON-serializable. */
  bodies: unknown[];
  idempotencyKey?: string;
  db?: Db;
};

export type AppendResult = { first: number; count: number; length: number; receivedAt: string; replayed: boolean };

type StoredResponse = Omit<AppendResult, 'replayed'>;

/** Serializes and checks each body against the size limits; pure, so it runs before any IO. */
export function encodeBodies(bodies: unknown[], limits = { event: env().EVENT_MAX_BYTES, batch: env().BATCH_MAX_BYTES }): string[] {
  if (bodies.length === 0) throw new AppError('bad_request', 'Nothing to append: the batch is empty.');
  let total = 0;
  return bodies.map((body, i) => {
    // Before stringifying: deep nesting would overflow JSON.stringify's stack, and Infinity would become null.
    const problem = jsonProblem(body);
    if (problem) throw new AppError('bad_request', bodies.length > 1 ? `Element ${i} cannot be stored: ${problem}.` : `The event cannot be stored: ${problem}.`);
    const text = JSON.stringify(body);
    if (text === undefined) throw new AppError('bad_request', `Element ${i} is not a JSON value.`);
    // PostgreSQL's jsonb cannot hold NUL characters; refusing here keeps the error honest.
    if (text.includes('\\u0000')) throw new AppError('bad_request', 'JSON strings may not contain the NUL character (\\u0000).');
    const bytes = Buffer.byteLength(text);
    if (bytes > limits.event) {
      throw new AppError('payload_too_large', `An event may be at most ${limits.event} bytes of JSON; element ${i} is ${bytes}.`);
    }
    total += bytes;
    if (total > limits.batch) throw new AppError('payload_too_large', `A batch may be at most ${limits.batch} bytes of JSON.`);
    return text;
  });
}

export async function appendEvents({ streamId, bodies, idempotencyKey, db = defaultDb() }: AppendEventsOptions): Promise<AppendResult> {
  const encoded = encodeBodies(bodies);
  const result = idempotencyKey ? await appendIdempotent(db, streamId, encoded, idempotencyKey) : await appendOnce(db, streamId, encoded);
  if (!result.replayed) {
    // Best effort, after commit: with Redis down the append still stands and the sweep catches up.
    await Promise.all([wakeFold(streamId), publishAppended(streamId, result.length)]);
  }
  return result;
}

/**
 * The hot path: one statement, so one round trip and its own transaction. The UPDATE takes the
 * stream's row lock, which serialises concurrent writers and makes the indices dense.
 */
async function appendOnce(db: DbTx, streamId: string, encoded: string[]): Promise<AppendResult> {
  const rows = await db.$queryRaw<{ length: number; at: Date }[]>`
    WITH bumped AS (
      UPDATE "Stream" SET length = length + ${encoded.length}, "lastEventAt" = now()
      WHERE id = ${streamId}::uuid RETURNING length, "lastEventAt" AS at
    ), inserted AS (
      INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
      SELECT ${streamId}::uuid, b.length - ${encoded.length}::int + (t.ord - 1)::int, t.body::jsonb, b.at
      FROM bumped b, unnest(${encoded}::text[]) WITH ORDINALITY AS t(body, ord)
      RETURNING 1
    )
    SELECT length, at FROM bumped`;
  if (rows.length === 0) throw new AppError('not_found', 'No such stream.');
  const { length, at } = rows[0];
  return { first: length - encoded.length, count: encoded.length, length, receivedAt: at.toISOString(), replayed: false };
}

/** With an Idempotency-Key: lock the stream first so two requests with one key cannot both append. */
async function appendIdempotent(db: Db, streamId: string, encoded: string[], key: string): Promise<AppendResult> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM "Stream" WHERE id = ${streamId}::uuid FOR UPDATE`;
    const seen = await tx.idempotencyRecord.findUnique({ where: { streamId_key: { streamId, key } } });
    if (seen && Date.now() - seen.createdAt.getTime() < IDEMPOTENCY_WINDOW_MS) {
      return { ...(seen.response as StoredResponse), replayed: true };
    }
    const appended = await appendOnce(tx, streamId, encoded);
    const { replayed: _, ...response } = appended;
    await tx.idempotencyRecord.upsert({
      where: { streamId_key: { streamId, key } },
      create: { streamId, key, response },
      update: { response, createdAt: new Date() },
    });
    return appended;
  });
}
