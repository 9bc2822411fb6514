// The one append path. JSON, forms, text, batches, timers and recipes all come through here:
// assign dense indices under the stream's row lock, insert, bump the length, commit — and only
// then wake the fold queue and the live tails.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { db as defaultDb, type Db } from '../db/client.ts';
import { wakeFold } from '../queue/enqueue.ts';
import { publishAppended } from './tail-events.ts';

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
  const result = await db.$transaction(async (tx) => {
    if (idempotencyKey) {
      // Lock the stream first so two requests with the same key cannot both append.
      await tx.$executeRaw`SELECT 1 FROM "Stream" WHERE id = ${streamId}::uuid FOR UPDATE`;
      const seen = await tx.idempotencyRecord.findUnique({ where: { streamId_key: { streamId, key: idempotencyKey } } });
      if (seen && Date.now() - seen.createdAt.getTime() < IDEMPOTENCY_WINDOW_MS) {
        return { ...(seen.response as StoredResponse), replayed: true };
      }
    }
    const bumped = await tx.$queryRaw<{ length: number; at: Date }[]>`
      UPDATE "Stream" SET length = length + ${encoded.length}, "lastEventAt" = now()
      WHERE id = ${streamId}::uuid RETURNING length, "lastEventAt" AS at`;
    if (bumped.length === 0) throw new AppError('not_found', 'No such stream.');
    const { length, at } = bumped[0];
    const first = length - encoded.length;
    await tx.$executeRaw`
      INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
      SELECT ${streamId}::uuid, ${first}::int + (t.ord - 1)::int, t.body::jsonb, ${at}
      FROM unnest(${encoded}::text[]) WITH ORDINALITY AS t(body, ord)`;
    const response: StoredResponse = { first, count: encoded.length, length, receivedAt: at.toISOString() };
    if (idempotencyKey) {
      await tx.idempotencyRecord.upsert({
        where: { streamId_key: { streamId, key: idempotencyKey } },
        create: { streamId, key: idempotencyKey, response },
        update: { response, createdAt: new Date() },
      });
    }
    return { ...response, replayed: false };
  });
  if (!result.replayed) {
    // Best effort, after commit: with Redis down the append still stands and the sweep catches up.
    await Promise.all([wakeFold(streamId), publishAppended(streamId, result.length)]);
  }
  return result;
}
