// The one append path. JSON, forms, text, batches, timers and recipes all come through here:
// assign dense indices under the stream's row lock, insert, bump the length, commit — and only
// then wake the fold queue and the live tails.
import { AppError, toAppError } from '../errors.ts';
import { env } from '../env.ts';
import { db as defaultDb, sql, type Db, type DbTx } from '../db/client.ts';
import { requestFold } from '../queue/enqueue.ts';
import { publishAppended } from './tail-events.ts';
import { sha256Hex } from '../crypto.ts';
import { jsonProblem } from './check-json.ts';

export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * An idempotency key and whose it is: `key:<api key id>`, `user:<id>`, `anon:<client address>`, or
 * Pipet's own (`timer`, `segment:<key id>`). Senders never share keys.
 *
 * `key` covers the whole call: a repeat appends nothing and answers the first answer. `keys` gives
 * each body its own (Segment's `messageId`): bodies whose key was seen within the window are left
 * out, and so is a repeat within the call; the rest are appended together, all or nothing.
 */
export type Idempotency = { key: string; scope: string } | { keys: string[]; scope: string };

export type AppendEventsOptions = {
  streamId: string;
  /** Values to append, in order. Each must be JSON-serializable. */
  bodies: unknown[];
  idempotency?: Idempotency;
  db?: Db;
};

export type AppendResult = {
  first: number;
  count: number;
  length: number;
  receivedAt: string;
  replayed: boolean;
  /** With per-body keys: how many bodies were left out as already seen. */
  duplicates?: number;
};

type Appended = AppendResult & { teamId: string };

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

export async function appendEvents({ streamId, bodies, idempotency, db = defaultDb() }: AppendEventsOptions): Promise<AppendResult> {
  const encoded = encodeBodies(bodies);
  if (idempotency && 'keys' in idempotency && idempotency.keys.length !== encoded.length) throw new Error('appendEvents: one idempotency key per body');
  const { teamId, ...result } = idempotency
    ? 'keys' in idempotency
      ? await appendDeduplicated(db, streamId, encoded, idempotency)
      : await appendIdempotent(db, streamId, encoded, idempotency)
    : db === defaultDb()
      ? await appendGrouped(streamId, encoded)
      : await appendOnce(db, streamId, encoded);
  if (!result.replayed) {
    // After commit, and never awaited: with Redis slow or down the append still stands, and the
    // sweep catches the fold up.
    requestFold({ streamId, teamId });
    publishAppended(streamId, result.length);
  }
  return result;
}

// ---- group commit ----
// Appends to one stream serialise on its row lock anyway, so while one statement is in flight the
// appends that arrive for the same stream wait here and go together in the next statement: one
// round trip and one commit for all of them, each still answered with its own indices, and only
// after that commit. An idle stream's append goes at once.

type Waiting = { encoded: string[]; resolve: (appended: Appended) => void; reject: (error: unknown) => void };

const MAX_GROUP_REQUESTS = 1_000;
const MAX_GROUP_BODIES = 10_000;
const lines = new Map<string, Waiting[]>();

function appendGrouped(streamId: string, encoded: string[]): Promise<Appended> {
  return new Promise((resolve, reject) => {
    const waiting: Waiting = { encoded, resolve, reject };
    const line = lines.get(streamId);
    if (line) {
      line.push(waiting);
      return;
    }
    lines.set(streamId, [waiting]);
    void drain(streamId);
  });
}

async function drain(streamId: string): Promise<void> {
  const line = lines.get(streamId)!;
  while (line.length > 0) {
    const group: Waiting[] = [];
    let bodies = 0;
    while (line.length > 0 && group.length < MAX_GROUP_REQUESTS && (group.length === 0 || bodies + line[0].encoded.length <= MAX_GROUP_BODIES)) {
      const next = line.shift()!;
      group.push(next);
      bodies += next.encoded.length;
    }
    try {
      const appended = await appendStatement(streamId, group.length === 1 ? group[0].encoded : group.flatMap((w) => w.encoded));
      let first = appended.first;
      for (const w of group) {
        const count = w.encoded.length;
        w.resolve({ ...appended, first, count, length: first + count });
        first += count;
      }
    } catch (error) {
      if (group.length > 1 && toAppError(error).code !== 'unavailable') {
        // Not the database being away: one request's data may be the cause, so each goes alone.
        for (const w of group) await appendStatement(streamId, w.encoded).then(w.resolve, w.reject);
      } else {
        for (const w of group) w.reject(error);
      }
    }
  }
  lines.delete(streamId);
}

// The append is one function call, `pipet_append_events` (migration citus_keys): it bumps the
// stream's length, taking its row lock, which serialises concurrent writers and makes the indices
// dense, and inserts the bodies at the indices that frees. One statement, one round trip; on Citus
// the call is delegated whole to the node holding the stream (docs/scaling-citus.md).
const APPEND_SQL = `SELECT pipet_append_events($1::uuid, $2::text[]) AS appended`;

/** The hot path: one statement in its own transaction. */
async function appendStatement(streamId: string, encoded: string[]): Promise<Appended> {
  return appended(await sql<AppendedRow>(APPEND_SQL, [streamId, encoded]), encoded.length);
}

/** The same statement inside a caller's transaction. */
async function appendOnce(db: DbTx, streamId: string, encoded: string[]): Promise<Appended> {
  const rows = await db.$queryRawUnsafe<AppendedRow[]>(APPEND_SQL, streamId, encoded);
  return appended(rows, encoded.length);
}

/** The function's answer, or null when there is no such stream. */
type AppendedRow = { appended: { length: number; at: string; teamId: string } | null };

function appended(rows: AppendedRow[], count: number): Appended {
  const row = rows[0]?.appended;
  if (!row) throw new AppError('not_found', 'No such stream.');
  const { length, at, teamId } = row;
  return { first: length - count, count, length, receivedAt: new Date(at).toISOString(), replayed: false, teamId };
}

/**
 * With an idempotency key: lock the stream first so two requests with one key cannot both append.
 * A repeat within the window answers the first answer; a repeat with another body is refused.
 */
async function appendIdempotent(db: Db, streamId: string, encoded: string[], { key, scope }: { key: string; scope: string }): Promise<Appended> {
  const bodyHash = sha256Hex(encoded.join('\n'));
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM "Stream" WHERE id = ${streamId}::uuid FOR UPDATE`;
    const id = { streamId_scope_key: { streamId, scope, key } };
    const seen = await tx.idempotencyRecord.findUnique({ where: id });
    if (seen && Date.now() - seen.createdAt.getTime() < IDEMPOTENCY_WINDOW_MS) {
      if (seen.bodyHash && seen.bodyHash !== bodyHash) {
        throw new AppError('idempotency_mismatch', `Idempotency-Key \`${key}\` was first used with another body; a retry must send the same body, new data needs a new key.`);
      }
      return { ...(seen.response as StoredResponse), replayed: true, teamId: '' };
    }
    const appended = await appendOnce(tx, streamId, encoded);
    const { replayed: _, teamId: _team, ...response } = appended;
    await tx.idempotencyRecord.upsert({ where: id, create: { streamId, scope, key, bodyHash, response }, update: { bodyHash, response, createdAt: new Date() } });
    return appended;
  });
}

/**
 * Per-body keys, under the same stream lock: the bodies whose key is new are appended in one
 * statement, and their keys recorded in the same transaction. A key's content is not compared
 * (a Segment SDK's retry carries a new `sentAt`); the first body with a key wins for 24 hours.
 */
async function appendDeduplicated(db: Db, streamId: string, encoded: string[], { keys, scope }: { keys: string[]; scope: string }): Promise<Appended> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`SELECT 1 FROM "Stream" WHERE id = ${streamId}::uuid FOR UPDATE`;
    const since = new Date(Date.now() - IDEMPOTENCY_WINDOW_MS);
    const unique = [...new Set(keys)];
    const rows = await tx.idempotencyRecord.findMany({ where: { streamId, scope, key: { in: unique }, createdAt: { gte: since } }, select: { key: true } });
    const seen = new Set(rows.map((r) => r.key));
    const fresh: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      if (seen.has(keys[i])) continue;
      seen.add(keys[i]);
      fresh.push(i);
    }
    const duplicates = keys.length - fresh.length;
    if (fresh.length === 0) {
      const stream = await tx.stream.findUnique({ where: { id: streamId }, select: { length: true } });
      if (!stream) throw new AppError('not_found', 'No such stream.');
      return { first: stream.length, count: 0, length: stream.length, receivedAt: new Date().toISOString(), replayed: true, teamId: '', duplicates };
    }
    const appended = await appendOnce(tx, streamId, fresh.map((i) => encoded[i]));
    const freshKeys = fresh.map((i) => keys[i]);
    // A key last used before the window is free again: its old record makes way.
    await tx.idempotencyRecord.deleteMany({ where: { streamId, scope, key: { in: freshKeys }, createdAt: { lt: since } } });
    await tx.idempotencyRecord.createMany({
      data: freshKeys.map((key, j) => ({ streamId, scope, key, bodyHash: '', response: { index: appended.first + j, receivedAt: appended.receivedAt } })),
    });
    return { ...appended, duplicates };
  });
}
