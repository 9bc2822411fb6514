// Saving, replaying, resuming and skipping reducers. Each change takes the reducer's state row
// lock; a fold batch racing with it fails its cursor/version guard and is simply re-done.
import { accountOf } from '../teams/account-of.ts';
import { Prisma } from '../db/generated/client.ts';
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { wakeFold } from '../queue/enqueue.ts';
import { foldBatch } from './sandbox/index.ts';
import { sha256Hex } from '../crypto.ts';
import { isSlug, SLUG_RULE } from '../../schemas/vocabulary.ts';

const MAX_CODE = 100 * 1024;
const MAX_KEY_BY = 10 * 1024;

export type UpsertReducerOptions = {
  streamId: string;
  name: string;
  code: string;
  initialState?: unknown;
  /** A keyed reducer's `(event, index) => key` source; null or absent for one state. */
  keyBy?: string | null;
  /** New code: true replays from index 0 (effects suppressed up to the current head); false continues from the cursor. */
  replay?: boolean;
  db?: Db;
};

function jsonValue(value: unknown): Prisma.InputJsonValue | typeof Prisma.JsonNull {
  return value === null || value === undefined ? Prisma.JsonNull : (value as Prisma.InputJsonValue);
}

export async function upsertReducer({ streamId, name, code, initialState = null, keyBy: givenKeyBy = null, replay = false, db = defaultDb() }: UpsertReducerOptions) {
  if (!isSlug(name)) throw new AppError('bad_request', `Reducer names are ${SLUG_RULE}.`);
  if (!code.trim()) throw new AppError('bad_request', 'The reducer code is empty.');
  if (code.length > MAX_CODE) throw new AppError('payload_too_large', `Reducer code may be at most ${MAX_CODE} characters.`);
  if (JSON.stringify(initialState ?? null).length > 1024 * 1024) throw new AppError('payload_too_large', 'The initial state may be at most 1 MiB of JSON.');
  const keyBy = givenKeyBy?.trim() ? givenKeyBy : null;
  if (keyBy !== null && keyBy.length > MAX_KEY_BY) throw new AppError('payload_too_large', `keyBy may be at most ${MAX_KEY_BY} characters.`);
  const { teamId } = await db.stream.findUniqueOrThrow({ where: { id: streamId }, select: { teamId: true } });
  await assertCompiles({ code, initialState, teamId });
  if (keyBy !== null) await assertCompiles({ code: keyBy, initialState: null, teamId, what: 'keyBy' });
  const result = await db.$transaction(async (tx) => {
    const stream = await tx.stream.findUniqueOrThrow({ where: { id: streamId }, select: { length: true } });
    const existing = await tx.reducer.findUnique({ where: { streamId_name: { streamId, name } } });
    if (!existing) {
      const reducer = await createReducer(tx, { streamId, name, code, initialState, keyBy, streamLength: stream.length });
      return { reducer, created: true, changed: true };
    }
    const [live] = await tx.$queryRaw<{ version: number; cursor: number }[]>`SELECT version, cursor FROM "ReducerState" WHERE "streamId" = ${streamId}::uuid AND "reducerId" = ${existing.id}::uuid FOR UPDATE`;
    const sameCode = existing.code === code && existing.keyBy === keyBy && JSON.stringify(existing.initialState) === JSON.stringify(initialState ?? null);
    if (sameCode && !replay) return { reducer: existing, created: false, changed: false };
    if (existing.keyBy !== keyBy && !replay) {
      const change = existing.keyBy === null ? 'adds keyBy' : keyBy === null ? 'removes keyBy' : 'changes keyBy';
      throw new AppError('conflict', `This version ${change}, so it must replay from the start (replay: true): "continue from here" would mix states kept by two different key functions.`);
    }
    const version = existing.version + 1;
    // A replay folds from the initial state at 0; "from here" continues the live version's state at its cursor.
    const lineage = replay ? { startIndex: 0, basedOn: null } : { startIndex: live.cursor, basedOn: live.version };
    await tx.reducerVersion.create({ data: { streamId, reducerId: existing.id, version, code, keyBy, initialState: jsonValue(initialState), ...lineage } });
    const reducer = await tx.reducer.update({ where: { streamId_id: { streamId, id: existing.id } }, data: { code, keyBy, initialState: jsonValue(initialState), version } });
    const clearError = { status: 'active' as const, errorMessage: null, errorStack: null, errorIndex: null, erroredAt: null };
    if (replay) {
      await tx.reducerState.update({
        where: { streamId_reducerId: { streamId, reducerId: existing.id } },
        data: { ...clearError, replayVersion: version, replayState: jsonValue(keyBy === null ? initialState : null), replayCursor: 0, replayUntil: stream.length, replayKeyCount: 0 },
      });
    } else {
      // Continue from here: the new code takes over at the live cursor (after a fix, that is the
      // failing event). A replay in progress is abandoned.
      await tx.reducerState.update({
        where: { streamId_reducerId: { streamId, reducerId: existing.id } },
        data: { ...clearError, version, replayVersion: null, replayState: Prisma.DbNull, replayCursor: null, replayUntil: null },
      });
    }
    return { reducer, created: false, changed: true };
  });
  if (result.changed) await wakeFold({ streamId, teamId });
  return result;
}

/**
 * A new reducer at version 1, inside the caller's transaction. It folds the whole history, quietly:
 * effects of events already in the stream (below `streamLength`) are recorded as suppressed.
 */
export function createReducer(
  tx: DbTx,
  { streamId, name, code, initialState, keyBy = null, streamLength }: { streamId: string; name: string; code: string; initialState: unknown; keyBy?: string | null; streamLength: number },
) {
  return tx.reducer.create({
    data: {
      streamId,
      name,
      code,
      keyBy,
      initialState: jsonValue(initialState),
      version: 1,
      versions: { create: { version: 1, code, keyBy, initialState: jsonValue(initialState) } },
      // A keyed reducer's own state stays null: its states are its keys' (KeyedState).
      state: { create: { version: 1, state: jsonValue(keyBy === null ? initialState : null), cursor: 0, suppressUntil: streamLength, lineage: 1 } },
    },
  });
}

/** Replays the current code from index 0 as a new version; the old state stays readable meanwhile. */
export async function replayReducer({ streamId, reducerId, db = defaultDb() }: { streamId: string; reducerId: string; db?: Db }) {
  const reducer = await db.reducer.findUniqueOrThrow({ where: { streamId_id: { streamId, id: reducerId } } });
  return upsertReducer({ streamId: reducer.streamId, name: reducer.name, code: reducer.code, keyBy: reducer.keyBy, initialState: reducer.initialState, replay: true, db });
}

/** After a fix (or a transient failure): retry the failing event. */
export async function resumeReducer({ streamId, reducerId, db = defaultDb() }: { streamId: string; reducerId: string; db?: Db }) {
  const state = await db.reducerState.findUniqueOrThrow({ where: { streamId_reducerId: { streamId, reducerId } }, include: { reducer: { select: { streamId: true, stream: { select: { teamId: true } } } } } });
  if (state.status !== 'errored') throw new AppError('conflict', 'This reducer is not stopped on an error.');
  await db.reducerState.update({ where: { streamId_reducerId: { streamId, reducerId } }, data: { status: 'active', errorMessage: null, errorStack: null, errorIndex: null, erroredAt: null } });
  await wakeFold({ streamId: state.reducer.streamId, teamId: state.reducer.stream.teamId });
}

/** Skips the failing event (recorded in `skipped`) and goes on from the next one. */
export async function skipFailingEvent({ streamId, reducerId, db = defaultDb() }: { streamId: string; reducerId: string; db?: Db }) {
  const state = await db.reducerState.findUniqueOrThrow({ where: { streamId_reducerId: { streamId, reducerId } }, include: { reducer: { select: { streamId: true, stream: { select: { teamId: true } } } } } });
  if (state.status !== 'errored' || state.errorIndex === null) throw new AppError('conflict', 'This reducer is not stopped on an error.');
  const next = state.errorIndex + 1;
  const replaying = state.replayVersion !== null;
  const { count } = await db.reducerState.updateMany({
    where: { streamId, reducerId, status: 'errored', errorIndex: state.errorIndex },
    data: {
      status: 'active',
      errorMessage: null,
      errorStack: null,
      errorIndex: null,
      erroredAt: null,
      skipped: { push: state.errorIndex },
      ...(replaying ? { replayCursor: next } : { cursor: next }),
    },
  });
  if (count === 0) throw new AppError('conflict', 'The reducer changed meanwhile; reload and try again.');
  await wakeFold({ streamId: state.reducer.streamId, teamId: state.reducer.stream.teamId });
  return { skipped: state.errorIndex };
}

/** Refuses code that does not compile (or whose value is not a function) before it is saved. */
export async function assertCompiles({ code, initialState, teamId, what = 'reducer' }: { code: string; initialState: unknown; teamId: string; what?: 'reducer' | 'keyBy' }): Promise<void> {
  const probe = await foldBatch({
    tenant: await accountOf(teamId),
    cacheKey: `check:${sha256Hex(code).slice(0, 24)}`,
    code,
    stateJson: JSON.stringify(initialState ?? null),
    events: [{ index: 0, bodyJson: 'null', receivedAt: Date.now() }],
    stream: { team: 'check', name: 'check', length: 1 },
    ...(what === 'keyBy' ? { mode: 'keys' as const } : {}),
  }, { pool: 'interactive' });
  if (probe.error?.kind === 'compile') throw new AppError('bad_request', `The ${what} does not compile: ${probe.error.message.replace('(state, event, index, stream) => newState', what === 'keyBy' ? '(event, index) => key' : '$&')}`);
}
