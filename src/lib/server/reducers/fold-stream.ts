// Folds a stream's events into each enabled reducer's state, exactly once on state: read events
// after the cursor, fold a batch in the sandbox, then write state, cursor and the batch's effects
// in one transaction guarded by the old cursor. Two workers racing cost work, never correctness.
import { db as defaultDb, type Db } from '../db/client.ts';
import { readEvents } from '../streams/read-events.ts';
import { foldSlice, type FoldResult, type RecordedEffect } from './sandbox/index.ts';
import { effectId } from './effect-id.ts';
import { loadReducerCode } from './reducer-code.ts';
import { enqueueEffects } from '../effects/enqueue-effect.ts';
import { firstAttemptAt } from '../effects/kinds/index.ts';
import { channelFor, publish } from '../notify.ts';

export type FoldStreamOptions = { streamId: string; batchSize?: number; timeBudgetMs?: number; db?: Db };
export type FoldStreamResult = { folded: number; more: boolean };

class LostRace extends Error {}

type Track = { replay: boolean; version: number; cursor: number; stateJson: string; suppressBelow: number };

export async function foldStream({ streamId, batchSize = 1000, timeBudgetMs = 1_000, db = defaultDb() }: FoldStreamOptions): Promise<FoldStreamResult> {
  const started = Date.now();
  let folded = 0;
  let more = false;
  const stream = await db.stream.findUnique({
    where: { id: streamId },
    select: { id: true, slug: true, teamId: true, team: { select: { slug: true } }, reducers: { where: { enabled: true }, select: { id: true } } },
  });
  if (!stream) return { folded, more };

  for (const { id: reducerId } of stream.reducers) {
    for (;;) {
      if (Date.now() - started > timeBudgetMs) return { folded, more: true };
      const step = await foldOnce({ reducerId, stream, batchSize, db });
      folded += step.folded;
      if (step.done) break;
    }
  }
  // Anything appended while we folded is picked up by the job its append enqueued; say so anyway.
  const behind = await db.$queryRaw<{ n: number }[]>`
    SELECT count(*)::int AS n FROM "ReducerState" rs JOIN "Reducer" r ON r.id = rs."reducerId" JOIN "Stream" s ON s.id = r."streamId"
    WHERE s.id = ${streamId}::uuid AND r.enabled AND rs.status = 'active'
      AND (rs.cursor < s.length OR rs."replayVersion" IS NOT NULL)`;
  more = behind[0].n > 0;
  return { folded, more };
}

async function loadTrack(reducerId: string, db: Db): Promise<(Track & { status: string; length: number }) | null> {
  const rows = await db.$queryRaw<
    { status: string; version: number; cursor: number; state: string | null; suppressUntil: number; replayVersion: number | null; replayCursor: number | null; replayState: string | null; replayUntil: number | null; length: number }[]
  >`SELECT rs.status::text, rs.version, rs.cursor, rs.state::text AS state, rs."suppressUntil", rs."replayVersion", rs."replayCursor",
           rs."replayState"::text AS "replayState", rs."replayUntil", s.length
    FROM "ReducerState" rs JOIN "Reducer" r ON r.id = rs."reducerId" JOIN "Stream" s ON s.id = r."streamId"
    WHERE rs."reducerId" = ${reducerId}::uuid`;
  const r = rows[0];
  if (!r) return null;
  const replay = r.replayVersion !== null;
  return {
    status: r.status,
    length: r.length,
    replay,
    version: replay ? r.replayVersion! : r.version,
    cursor: replay ? r.replayCursor! : r.cursor,
    stateJson: (replay ? r.replayState : r.state) ?? 'null',
    suppressBelow: replay ? r.replayUntil! : r.suppressUntil,
  };
}

/** One batch for one reducer. `done` when it is caught up, errored, or lost a race. */
async function foldOnce({ reducerId, stream, batchSize, db }: { reducerId: string; stream: { id: string; slug: string; teamId: string; team: { slug: string } }; batchSize: number; db: Db }): Promise<{ folded: number; done: boolean }> {
  const track = await loadTrack(reducerId, db);
  if (!track || track.status !== 'active') return { folded: 0, done: true };
  if (track.cursor >= track.length) {
    if (track.replay) await promoteReplay(reducerId, track, db);
    return { folded: 0, done: true };
  }
  const code = await loadReducerCode(reducerId, track.version, db);
  const events = await readEvents({ streamId: stream.id, start: track.cursor, end: Math.min(track.length, track.cursor + batchSize), db });
  if (events.length === 0) return { folded: 0, done: true };
  const result = await foldSlice({
    tenant: stream.teamId,
    cacheKey: `${reducerId}:${track.version}`,
    code: code.code,
    stateJson: track.stateJson,
    events: events.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() })),
    stream: { team: stream.team.slug, name: stream.slug, length: track.length },
  });
  try {
    const pending = await commitBatch({ reducerId, stream, track, result, db });
    // Best effort, after commit: the rows are stored, and the sweep enqueues whatever this misses.
    await enqueueEffects(pending);
  } catch (error) {
    if (error instanceof LostRace) return { folded: 0, done: true };
    throw error;
  }
  const next = track.cursor + result.folded;
  // Waiters on `?after=` read the state when told it passed their event, or that the reducer stopped.
  if (!track.replay && (result.folded > 0 || result.error)) await publish(channelFor('folded', reducerId), result.error ? `stopped:${next}` : String(next));
  if (track.replay && !result.error && next >= track.length) await promoteReplay(reducerId, { ...track, cursor: next }, db);
  // A slice that yielded leaves the rest of the batch for the next round (after other teams' turn).
  return { folded: result.folded, done: !!result.error || next >= track.length };
}

type StoredEffect = { id: string; teamId: string; kind: RecordedEffect['kind']; payload: RecordedEffect['payload']; status: 'pending' | 'suppressed'; eventIndex: number; nextAttemptAt: Date };

async function commitBatch({ reducerId, stream, track, result, db }: { reducerId: string; stream: { id: string; teamId: string }; track: Track; result: FoldResult; db: Db }): Promise<StoredEffect[]> {
  const next = track.cursor + result.folded;
  const recordedAt = new Date();
  const effects: StoredEffect[] = result.effects.map((e) => ({
    id: effectId(reducerId, track.version, e.eventIndex, e.ordinal),
    teamId: stream.teamId,
    kind: e.kind,
    payload: e.payload,
    eventIndex: e.eventIndex,
    status: e.eventIndex < track.suppressBelow ? 'suppressed' : 'pending',
    nextAttemptAt: firstAttemptAt(e.kind, e.payload, recordedAt),
  }));
  await db.$transaction(async (tx) => {
    const updated = track.replay
      ? await tx.$executeRaw`UPDATE "ReducerState" SET "replayState" = ${result.stateJson}::jsonb, "replayCursor" = ${next}, "updatedAt" = now()
          WHERE "reducerId" = ${reducerId}::uuid AND "replayVersion" = ${track.version} AND "replayCursor" = ${track.cursor}`
      : await tx.$executeRaw`UPDATE "ReducerState" SET state = ${result.stateJson}::jsonb, cursor = ${next}, "updatedAt" = now()
          WHERE "reducerId" = ${reducerId}::uuid AND version = ${track.version} AND cursor = ${track.cursor} AND "replayVersion" IS NULL`;
    if (updated !== 1) throw new LostRace();
    if (effects.length) {
      await tx.effect.createMany({
        skipDuplicates: true,
        data: effects.map((e, i) => ({
          id: e.id,
          teamId: stream.teamId,
          streamId: stream.id,
          reducerId,
          version: track.version,
          eventIndex: e.eventIndex,
          ordinal: result.effects[i].ordinal,
          kind: e.kind,
          payload: e.payload as object,
          status: e.status,
          nextAttemptAt: e.nextAttemptAt,
        })),
      });
    }
    if (result.error) {
      await tx.reducerState.update({
        where: { reducerId },
        data: { status: 'errored', errorMessage: result.error.message, errorStack: result.error.stack, errorIndex: result.error.index, erroredAt: new Date() },
      });
    }
  });
  return effects.filter((e) => e.status === 'pending');
}

/** The replay caught up with the stream: its state becomes the live one. */
async function promoteReplay(reducerId: string, track: Track, db: Db): Promise<void> {
  const updated = await db.$executeRaw`
    UPDATE "ReducerState" SET state = "replayState", cursor = "replayCursor", version = "replayVersion", "suppressUntil" = "replayUntil",
      "replayState" = NULL, "replayCursor" = NULL, "replayVersion" = NULL, "replayUntil" = NULL, "updatedAt" = now()
    WHERE "reducerId" = ${reducerId}::uuid AND "replayVersion" = ${track.version} AND "replayCursor" = ${track.cursor}`;
  if (updated === 1) await publish(channelFor('folded', reducerId), String(track.cursor));
}
