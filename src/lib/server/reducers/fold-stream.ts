// Folds a stream's events into each enabled reducer's state, exactly once on state: read events
// after the cursor, fold a batch in the sandbox, then write state, cursor and the batch's effects
// in one statement guarded by the old cursor. Two workers racing cost work, never correctness.
//
// A round is two reads (every reducer's track, then the events the furthest-behind one needs) and
// one commit statement per reducer that folded, the reducers' folds and commits running side by side.
// Every statement is filtered by the stream and joins its tables on (streamId, reducerId): on Citus
// each one runs on the stream's shard alone (docs/scaling-citus.md).
import { db as defaultDb, sql, type Db } from '../db/client.ts';
import { readEvents } from '../streams/read-events.ts';
import { foldSlice, type FoldResult, type RecordedEffect, type SandboxEvent } from './sandbox/index.ts';
import { effectId } from './effect-id.ts';
import { loadReducerCode } from './reducer-code.ts';
import { enqueueEffects } from '../effects/enqueue-effect.ts';
import { firstAttemptAt, specOf } from '../effects/kinds/index.ts';
import { env } from '../env.ts';
import { channelFor, publish } from '../notify.ts';

export type FoldStreamOptions = { streamId: string; batchSize?: number; timeBudgetMs?: number; db?: Db };
/** `more`: the time budget ran out with work left (the caller queues another round). */
export type FoldStreamResult = { folded: number; more: boolean };

type Stream = { id: string; slug: string; teamId: string; team: string; length: number };
type Track = { reducerId: string; replay: boolean; version: number; cursor: number; stateJson: string; suppressBelow: number };

export async function foldStream({ streamId, batchSize = 1000, timeBudgetMs = 1_000, db = defaultDb() }: FoldStreamOptions): Promise<FoldStreamResult> {
  const started = Date.now();
  let folded = 0;
  for (;;) {
    const loaded = await loadTracks(streamId);
    if (!loaded) return { folded, more: false };
    const { stream, tracks } = loaded;
    // Replays that reached the head take over; the rest fold from their cursors.
    await Promise.all(tracks.filter((t) => t.replay && t.cursor >= stream.length).map((t) => promoteReplay(streamId, t)));
    const behind = tracks.filter((t) => t.cursor < stream.length);
    if (behind.length === 0) return { folded, more: false };
    const from = Math.min(...behind.map((t) => t.cursor));
    const rows = await readEvents({ streamId, start: from, end: Math.min(stream.length, from + batchSize) });
    const events: SandboxEvent[] = rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
    const steps = await Promise.all(behind.map((track) => foldTrack({ track, stream, events: events.slice(track.cursor - from), db })));
    folded += steps.reduce((n, s) => n + s, 0);
    if (steps.every((s) => s === 0)) return { folded, more: false };
    if (Date.now() - started > timeBudgetMs) return { folded, more: true };
  }
}

/** Whether any enabled, active reducer of the stream is behind it (or replaying). */
export async function streamBehind(streamId: string): Promise<boolean> {
  const [row] = await sql<{ behind: boolean }>(
    `SELECT EXISTS (
       SELECT 1 FROM "ReducerState" rs JOIN "Reducer" r ON r."streamId" = rs."streamId" AND r.id = rs."reducerId" JOIN "Stream" s ON s.id = r."streamId"
       WHERE s.id = $1::uuid AND rs."streamId" = $1::uuid AND r.enabled AND rs.status = 'active' AND (rs.cursor < s.length OR rs."replayVersion" IS NOT NULL)) AS behind`,
    [streamId],
  );
  return row?.behind ?? false;
}

/** The stream and the track each enabled, active reducer folds now (the replay track while one runs), in one read. */
async function loadTracks(streamId: string): Promise<{ stream: Stream; tracks: Track[] } | null> {
  const rows = await sql<{
    slug: string; teamId: string; team: string; length: number; reducerId: string | null; status: string | null; version: number; cursor: number; state: string | null;
    suppressUntil: number; replayVersion: number | null; replayCursor: number | null; replayState: string | null; replayUntil: number | null;
  }>(
    `SELECT s.slug, s."teamId", t.slug AS team, s.length, rs."reducerId", rs.status::text AS status, rs.version, rs.cursor, rs.state::text AS state,
            rs."suppressUntil", rs."replayVersion", rs."replayCursor", rs."replayState"::text AS "replayState", rs."replayUntil"
     FROM "Stream" s JOIN "Team" t ON t.id = s."teamId"
     LEFT JOIN "Reducer" r ON r."streamId" = s.id AND r.enabled
     LEFT JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id AND rs.status = 'active'
     WHERE s.id = $1::uuid`,
    [streamId],
  );
  if (rows.length === 0) return null;
  const { slug, teamId, team, length } = rows[0];
  const tracks = rows
    .filter((r) => r.reducerId !== null)
    .map((r) => {
      const replay = r.replayVersion !== null;
      return {
        reducerId: r.reducerId!,
        replay,
        version: replay ? r.replayVersion! : r.version,
        cursor: replay ? r.replayCursor! : r.cursor,
        stateJson: (replay ? r.replayState : r.state) ?? 'null',
        suppressBelow: replay ? r.replayUntil! : r.suppressUntil,
      };
    });
  return { stream: { id: streamId, slug, teamId, team, length }, tracks };
}

/** One slice of the events for one reducer, committed; how many events it folded (0: lost a race or nothing to do). */
async function foldTrack({ track, stream, events: available, db }: { track: Track; stream: Stream; events: SandboxEvent[]; db: Db }): Promise<number> {
  // A batch ends at the next snapshot boundary, so the state it commits there is the snapshot.
  const every = env().REDUCER_SNAPSHOT_EVERY;
  const boundary = (Math.floor(track.cursor / every) + 1) * every;
  const events = available.slice(0, boundary - track.cursor);
  if (events.length === 0) return 0;
  const code = await loadReducerCode(stream.id, track.reducerId, track.version, db);
  const result = await foldSlice({
    tenant: stream.teamId,
    cacheKey: `${track.reducerId}:${track.version}`,
    code: code.code,
    stateJson: track.stateJson,
    events,
    stream: { team: stream.team, name: stream.slug, length: stream.length },
  });
  const snapshot = !result.error && track.cursor + result.folded === boundary ? boundary : null;
  const pending = await commitBatch({ track, stream, result, snapshot });
  if (pending === null) return 0;
  // Best effort, after commit: the rows are stored, and the sweep enqueues whatever this misses.
  await enqueueEffects(pending.map((e) => ({ ...e, streamId: stream.id })));
  const next = track.cursor + result.folded;
  // Waiters on `?after=` read the state when told it passed their event, or that the reducer stopped.
  if (!track.replay && (result.folded > 0 || result.error)) await publish(channelFor('folded', track.reducerId), result.error ? `stopped:${next}` : String(next));
  if (track.replay && !result.error && next >= stream.length) await promoteReplay(stream.id, { ...track, cursor: next });
  // An error stops this reducer; a slice that yielded leaves the rest for the next round.
  return result.error ? 0 : result.folded;
}

type StoredEffect = {
  id: string;
  teamId: string;
  kind: RecordedEffect['kind'];
  payload: RecordedEffect['payload'];
  status: 'pending' | 'suppressed' | 'delivered' | 'cancelled';
  eventIndex: number;
  ordinal: number;
  key: string | null;
  nextAttemptAt: Date;
};

// The new state, cursor, error (if the batch stopped on one), the batch's effects, the pending
// timers its keyed timers and cancel()s replace, and a snapshot at a boundary, in one statement:
// nothing but the guarded update happens unless it matched, so a lost race writes nothing.
const COMMIT_SQL = (track: 'live' | 'replay') => `
  WITH upd AS (
    UPDATE "ReducerState" SET
      ${track === 'live' ? `state = $2::jsonb, cursor = $3` : `"replayState" = $2::jsonb, "replayCursor" = $3`},
      status = CASE WHEN $6::text IS NULL THEN status ELSE 'errored'::"ReducerStatus" END,
      "errorMessage" = CASE WHEN $6::text IS NULL THEN "errorMessage" ELSE $6 END,
      "errorStack" = CASE WHEN $6::text IS NULL THEN "errorStack" ELSE $7 END,
      "errorIndex" = CASE WHEN $6::text IS NULL THEN "errorIndex" ELSE $8::int END,
      "erroredAt" = CASE WHEN $6::text IS NULL THEN "erroredAt" ELSE now() END,
      "updatedAt" = now()
    WHERE "streamId" = $10::uuid AND "reducerId" = $1::uuid AND ${track === 'live' ? `version = $4 AND cursor = $5 AND "replayVersion" IS NULL` : `"replayVersion" = $4 AND "replayCursor" = $5`}
    RETURNING 1
  ), fx AS (
    INSERT INTO "Effect" (id, "teamId", "streamId", "reducerId", version, "eventIndex", ordinal, kind, payload, status, "nextAttemptAt", key)
    SELECT e.id, $9::uuid, $10::uuid, $1::uuid, $4, e.idx, e.ord, e.kind::"EffectKind", e.payload::jsonb, e.status::"EffectStatus", e.next, e.key
    FROM unnest($11::text[], $12::int[], $13::int[], $14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::text[]) AS e(id, idx, ord, kind, payload, status, next, key)
    WHERE EXISTS (SELECT 1 FROM upd)
    ON CONFLICT ("streamId", id) DO NOTHING
    RETURNING 1
  ), replaced AS (
    UPDATE "Effect" SET status = 'cancelled'
    WHERE "streamId" = $10::uuid AND "reducerId" = $1::uuid AND kind = 'timer' AND status = 'pending' AND key = ANY($19::text[]) AND EXISTS (SELECT 1 FROM upd)
    RETURNING 1
  ), snap AS (
    INSERT INTO "ReducerSnapshot" ("streamId", "reducerId", version, folded, state)
    SELECT $10::uuid, $1::uuid, $4, $20::int, $2::jsonb WHERE $20::int IS NOT NULL AND EXISTS (SELECT 1 FROM upd)
    ON CONFLICT DO NOTHING
    RETURNING 1
  )
  SELECT (SELECT count(*) FROM upd)::int AS updated`;

/** Commits one folded batch; the effects to enqueue, or null when another worker got there first. */
async function commitBatch({ track, stream, result, snapshot }: { track: Track; stream: Stream; result: FoldResult; snapshot: number | null }): Promise<StoredEffect[] | null> {
  const recordedAt = new Date();
  const keyOf = (e: RecordedEffect) => specOf(e.kind).keyOf?.(e.payload as never) ?? null;
  // Within the batch the last keyed timer or cancel() for a key wins; earlier keyed timers are cancelled outright.
  const lastForKey = new Map<string, number>();
  result.effects.forEach((e, i) => {
    const key = keyOf(e);
    if (key !== null) lastForKey.set(key, i);
  });
  const effects: StoredEffect[] = result.effects.map((e, i) => {
    const live = e.eventIndex >= track.suppressBelow;
    const key = keyOf(e);
    const status = !live ? 'suppressed' : e.kind === 'cancel' ? 'delivered' : key !== null && lastForKey.get(key) !== i ? 'cancelled' : 'pending';
    return {
      id: effectId(track.reducerId, track.version, e.eventIndex, e.ordinal),
      teamId: stream.teamId,
      kind: e.kind,
      payload: e.payload,
      eventIndex: e.eventIndex,
      ordinal: e.ordinal,
      key,
      status,
      nextAttemptAt: firstAttemptAt(e.kind, e.payload, recordedAt),
    };
  });
  // Keys whose pending timers from earlier batches this batch replaces (history, being suppressed, replaces nothing).
  const replacedKeys = [...new Set(effects.filter((e) => e.key !== null && e.status !== 'suppressed').map((e) => e.key!))];
  const [row] = await sql<{ updated: number }>(COMMIT_SQL(track.replay ? 'replay' : 'live'), [
    track.reducerId,
    result.stateJson,
    track.cursor + result.folded,
    track.version,
    track.cursor,
    result.error?.message ?? null,
    result.error?.stack ?? null,
    result.error?.index ?? null,
    stream.teamId,
    stream.id,
    effects.map((e) => e.id),
    effects.map((e) => e.eventIndex),
    effects.map((e) => e.ordinal),
    effects.map((e) => e.kind),
    effects.map((e) => JSON.stringify(e.payload)),
    effects.map((e) => e.status),
    effects.map((e) => e.nextAttemptAt),
    effects.map((e) => e.key),
    replacedKeys,
    snapshot,
  ]);
  if (row?.updated !== 1) return null;
  return effects.filter((e) => e.status === 'pending');
}

/** The replay caught up with the stream: its state becomes the live one. */
async function promoteReplay(streamId: string, track: Track): Promise<void> {
  const [row] = await sql<{ promoted: number }>(
    `WITH p AS (
       UPDATE "ReducerState" SET state = "replayState", cursor = "replayCursor", version = "replayVersion", "suppressUntil" = "replayUntil",
         "replayState" = NULL, "replayCursor" = NULL, "replayVersion" = NULL, "replayUntil" = NULL, "updatedAt" = now()
       WHERE "streamId" = $4::uuid AND "reducerId" = $1::uuid AND "replayVersion" = $2 AND "replayCursor" = $3 RETURNING 1)
     SELECT count(*)::int AS promoted FROM p`,
    [track.reducerId, track.version, track.cursor, streamId],
  );
  if (row?.promoted === 1) await publish(channelFor('folded', track.reducerId), String(track.cursor));
}
