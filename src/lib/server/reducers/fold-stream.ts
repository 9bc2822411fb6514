// Folds a stream's events into each enabled reducer's state, exactly once on state: read events
// after the cursor, fold a batch in the sandbox, then write state, cursor and the batch's effects
// in one statement guarded by the old cursor. Two workers racing cost work, never correctness.
//
// A round is two reads (every reducer's track, then the events the furthest-behind one needs) and
// one commit statement per reducer that folded, the reducers' folds and commits running side by side.
// Every statement is filtered by the stream and joins its tables on (streamId, reducerId): on Citus
// each one runs on the stream's shard alone (docs/scaling-citus.md).
import { accountKey } from '../rate-limit.ts';
import { db as defaultDb, sql, type Db } from '../db/client.ts';
import { readEvents, type StoredEvent } from '../streams/read-events.ts';
import { foldSlice, type FoldResult, type RecordedEffect, type SandboxEvent } from './sandbox/index.ts';
import { effectId } from './effect-id.ts';
import { loadReducerCode, type ReducerCode } from './reducer-code.ts';
import { checkTimerBounds } from './timer-bounds.ts';
import { foldKeyed, keyLimitOf, type KeyedWrites } from './fold-keyed.ts';
import { enqueueEffects } from '../effects/enqueue-effect.ts';
import { firstAttemptAt, specOf } from '../effects/kinds/index.ts';
import { env } from '../env.ts';
import { channelFor, publish } from '../notify.ts';

export type FoldStreamOptions = { streamId: string; batchSize?: number; timeBudgetMs?: number; db?: Db };
/** `more`: the time budget ran out with work left (the caller queues another round). */
export type FoldStreamResult = { folded: number; more: boolean };

// `tenant`: whose turn in the sandbox pool this is, the team's account (its owner), so a person's
// teams share one turn.
type Stream = { id: string; slug: string; teamId: string; team: string; length: number; keyLimit: number; tenant: string };
type Track = {
  reducerId: string; replay: boolean; version: number; cursor: number; stateJson: string; suppressBelow: number;
  /** Keyed reducers: the lineage their key rows are written in, the keys it holds, the epoch deleting a key bumps. */
  lineage: number; keyCount: number; keysEpoch: number;
};

export async function foldStream({ streamId, batchSize = 1000, timeBudgetMs = 1_000, db = defaultDb() }: FoldStreamOptions): Promise<FoldStreamResult> {
  const started = Date.now();
  let folded = 0;
  // While the sandbox folds one batch, the next one is read (a catch-up's pipeline): events below the
  // stream's length are committed and never change, so reading them early reads the same rows.
  let prefetched: { start: number; rows: Promise<StoredEvent[] | null> } | null = null;
  try {
    for (;;) {
      const loaded = await loadTracks(streamId);
      if (!loaded) return { folded, more: false };
      const { stream, tracks } = loaded;
      // Replays that reached the head take over; the rest fold from their cursors.
      await Promise.all(tracks.filter((t) => t.replay && t.cursor >= stream.length).map((t) => promoteReplay(streamId, t)));
      const behind = tracks.filter((t) => t.cursor < stream.length);
      if (behind.length === 0) return { folded, more: false };
      const from = Math.min(...behind.map((t) => t.cursor));
      const end = Math.min(stream.length, from + batchSize);
      const early = prefetched?.start === from ? await prefetched.rows : null;
      prefetched = null;
      const rows = early?.length ? early : await readEvents({ streamId, start: from, end });
      // Where the next round starts if every track folds what it is given: the first track to stop,
      // at the end of the rows or at its snapshot boundary.
      const next = Math.min(...behind.map((t) => Math.min(from + rows.length, snapshotBoundary(t.cursor))));
      if (next < stream.length && Date.now() - started <= timeBudgetMs) {
        prefetched = { start: next, rows: readEvents({ streamId, start: next, end: Math.min(stream.length, next + batchSize) }).catch(() => null) };
      }
      const events: SandboxEvent[] = rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
      const steps = await Promise.all(behind.map((track) => foldTrack({ track, stream, events: events.slice(track.cursor - from), db })));
      folded += steps.reduce((n, s) => n + s, 0);
      if (steps.every((s) => s === 0)) return { folded, more: false };
      if (Date.now() - started > timeBudgetMs) return { folded, more: true };
    }
  } finally {
    // A read started for a round that did not happen: let it finish before the pool may close.
    await prefetched?.rows;
  }
}

/** The next snapshot boundary after `cursor`: a batch ends there, so its committed state is the snapshot. */
function snapshotBoundary(cursor: number): number {
  const every = env().REDUCER_SNAPSHOT_EVERY;
  return (Math.floor(cursor / every) + 1) * every;
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
    slug: string; teamId: string; team: string; accountId: string | null; length: number; maxKeys: number | null; reducerId: string | null; status: string | null; version: number; cursor: number; state: string | null;
    suppressUntil: number; replayVersion: number | null; replayCursor: number | null; replayState: string | null; replayUntil: number | null;
    lineage: number; keyCount: number; replayKeyCount: number; keysEpoch: number;
  }>(
    `SELECT s.slug, s."teamId", t.slug AS team, t."accountId", s.length, t."maxKeysPerReducer" AS "maxKeys", rs."reducerId", rs.status::text AS status, rs.version, rs.cursor, rs.state::text AS state,
            rs."suppressUntil", rs."replayVersion", rs."replayCursor", rs."replayState"::text AS "replayState", rs."replayUntil",
            rs.lineage, rs."keyCount", rs."replayKeyCount", rs."keysEpoch"
     FROM "Stream" s JOIN "Team" t ON t.id = s."teamId"
     LEFT JOIN "Reducer" r ON r."streamId" = s.id AND r.enabled
     LEFT JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id AND rs.status = 'active'
     WHERE s.id = $1::uuid`,
    [streamId],
  );
  if (rows.length === 0) return null;
  const { slug, teamId, team, accountId, length, maxKeys } = rows[0];
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
        // A replay folds from event 0 into rows of its own, under its version.
        lineage: replay ? r.replayVersion! : r.lineage,
        keyCount: replay ? r.replayKeyCount : r.keyCount,
        keysEpoch: r.keysEpoch,
      };
    });
  return { stream: { id: streamId, slug, teamId, team, length, keyLimit: keyLimitOf(maxKeys), tenant: accountKey({ id: teamId, accountId }) }, tracks };
}

/** One slice of the events for one reducer, committed; how many events it folded (0: lost a race or nothing to do). */
async function foldTrack({ track, stream, events: available, db }: { track: Track; stream: Stream; events: SandboxEvent[]; db: Db }): Promise<number> {
  const boundary = snapshotBoundary(track.cursor);
  const events = available.slice(0, boundary - track.cursor);
  if (events.length === 0) return 0;
  const code = await loadReducerCode(stream.id, track.reducerId, track.version, db);
  const fold = (count: number) => foldEvents({ track, stream, code, events: events.slice(0, count) });
  const { result, keyed } = await withinTimerBounds({ track, stream, folded: await fold(events.length), fold });
  // A keyed reducer's state is its keys: its time travel reads their history, not snapshots.
  const snapshot = !keyed && !result.error && track.cursor + result.folded === boundary ? boundary : null;
  const pending = await commitBatch({ track, stream, result, snapshot, keyed });
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

type Folded = { result: FoldResult; keyed?: KeyedWrites };

/** Folds `events` from the track's state, keyed or not. */
async function foldEvents({ track, stream, code, events }: { track: Track; stream: Stream; code: ReducerCode; events: SandboxEvent[] }): Promise<Folded> {
  const meta = { team: stream.team, name: stream.slug, length: stream.length };
  if (code.keyBy !== null) {
    const { result, writes } = await foldKeyed({
      track: { ...track, keyLimit: stream.keyLimit },
      code: { ...code, keyBy: code.keyBy },
      tenant: stream.tenant,
      stream: { id: stream.id, ...meta },
      events,
    });
    return { result, keyed: writes };
  }
  return { result: await foldSlice({ tenant: stream.tenant, cacheKey: `${track.reducerId}:${track.version}`, code: code.code, stateJson: track.stateJson, events, stream: meta }) };
}

/**
 * A batch that would leave more timers pending than allowed (timer-bounds.ts) stops at the event
 * that crosses the bound: it is folded again up to there, and the error recorded at that event.
 */
async function withinTimerBounds({ track, stream, folded, fold }: { track: Track; stream: Stream; folded: Folded; fold: (count: number) => Promise<Folded> }): Promise<Folded> {
  const effects = folded.result.effects.map((e) => ({ kind: e.kind, eventIndex: e.eventIndex, key: effectKey(e, folded.keyed), live: e.eventIndex >= track.suppressBelow }));
  const crossing = await checkTimerBounds({ streamId: stream.id, teamId: stream.teamId, reducerId: track.reducerId, effects });
  if (!crossing) return folded;
  const upTo = crossing.index - track.cursor;
  const again: Folded = upTo > 0 ? await fold(upTo) : { result: { stateJson: track.stateJson, folded: 0, effects: [] }, keyed: folded.keyed && { states: [], changes: [], keyOf: new Map() } };
  // A shorter fold that stopped sooner (an error, its time slice) stands as it is; the next round checks again.
  if (again.result.error || again.result.folded < upTo) return again;
  return { ...again, result: { stateJson: again.result.stateJson, folded: upTo, effects: again.result.effects, error: crossing } };
}

/** A keyed timer's or cancel()'s key as stored: in a keyed reducer scoped to the state key (user A's `check` is not user B's). */
function effectKey(e: RecordedEffect, keyed?: KeyedWrites): string | null {
  const key = specOf(e.kind).keyOf?.(e.payload as never) ?? null;
  return key !== null && keyed ? JSON.stringify([keyed.keyOf.get(e.eventIndex), key]) : key;
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
// timers its keyed timers and cancel()s replace, and a snapshot at a boundary, in one call of
// `pipet_commit_fold` (migration citus_keys): nothing but the guarded update happens unless it
// matched, so a lost race writes nothing. One round trip, and on Citus one node: the function is
// delegated to the stream's shard (docs/scaling-citus.md).
const COMMIT_SQL = `SELECT pipet_commit_fold($1::uuid, $2::uuid, $3::boolean, $4::jsonb, $5::int, $6::int, $7::int, $8::text, $9::text, $10::int, $11::uuid,
  $12::text[], $13::int[], $14::int[], $15::text[], $16::text[], $17::text[], $18::timestamptz[], $19::text[], $20::text[], $21::int) AS committed`;

/** Commits one folded batch; the effects to enqueue, or null when another worker got there first. */
async function commitBatch({ track, stream, result, snapshot, keyed }: { track: Track; stream: Stream; result: FoldResult; snapshot: number | null; keyed?: KeyedWrites }): Promise<StoredEffect[] | null> {
  const recordedAt = new Date();
  const keyOf = (e: RecordedEffect) => effectKey(e, keyed);
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
  const committed = keyed ? await commitKeyed({ track, stream, result, effects, replacedKeys, keyed }) : await commitPlain({ track, stream, result, effects, replacedKeys, snapshot });
  return committed ? effects.filter((e) => e.status === 'pending') : null;
}

type Commit = { track: Track; stream: Stream; result: FoldResult; effects: StoredEffect[]; replacedKeys: string[] };

/** The parameters both commit functions share: the new cursor with its guard, the error, and the effects. */
function outcomeParams({ track, stream, result }: Commit): unknown[] {
  return [track.cursor + result.folded, track.version, track.cursor, result.error?.message ?? null, result.error?.stack ?? null, result.error?.index ?? null, stream.teamId];
}

function effectParams({ effects, replacedKeys }: Commit): unknown[] {
  return [
    effects.map((e) => e.id),
    effects.map((e) => e.eventIndex),
    effects.map((e) => e.ordinal),
    effects.map((e) => e.kind),
    effects.map((e) => JSON.stringify(e.payload)),
    effects.map((e) => e.status),
    effects.map((e) => e.nextAttemptAt),
    effects.map((e) => e.key),
    replacedKeys,
  ];
}

async function commitPlain(c: Commit & { snapshot: number | null }): Promise<boolean> {
  const { track, stream, result, snapshot } = c;
  const [row] = await sql<{ committed: boolean }>(COMMIT_SQL, [stream.id, track.reducerId, track.replay, result.stateJson, ...outcomeParams(c), ...effectParams(c), snapshot]);
  return row?.committed === true;
}

// pipet_commit_keyed_fold (migration keyed_state): the same commit, guarded also by the keys epoch,
// with the keys that changed and every change.
const COMMIT_KEYED_SQL = `SELECT pipet_commit_keyed_fold($1::uuid, $2::uuid, $3::boolean, $4::int, $5::int, $6::int, $7::text, $8::text, $9::int, $10::uuid,
  $11::text[], $12::int[], $13::int[], $14::text[], $15::text[], $16::text[], $17::timestamptz[], $18::text[], $19::text[], $20::text[],
  $21::int, $22::int, $23::text[], $24::text[], $25::int[], $26::text[], $27::int[], $28::text[]) AS committed`;

async function commitKeyed(c: Commit & { keyed: KeyedWrites }): Promise<boolean> {
  const { track, stream, effects, keyed } = c;
  const [row] = await sql<{ committed: boolean }>(COMMIT_KEYED_SQL, [
    stream.id,
    track.reducerId,
    track.replay,
    ...outcomeParams(c),
    ...effectParams(c),
    effects.map((e) => keyed.keyOf.get(e.eventIndex) ?? null),
    track.lineage,
    track.keysEpoch,
    keyed.states.map((s) => s.key),
    keyed.states.map((s) => s.json),
    keyed.states.map((s) => s.index),
    keyed.changes.map((ch) => ch.key),
    keyed.changes.map((ch) => ch.index),
    keyed.changes.map((ch) => ch.json),
  ]);
  return row?.committed === true;
}

/** The replay caught up with the stream: its state becomes the live one. */
async function promoteReplay(streamId: string, track: Track): Promise<void> {
  const [row] = await sql<{ promoted: number }>(
    `WITH p AS (
       UPDATE "ReducerState" SET state = "replayState", cursor = "replayCursor", version = "replayVersion", "suppressUntil" = "replayUntil",
         lineage = "replayVersion", "keyCount" = "replayKeyCount", "replayKeyCount" = 0,
         "replayState" = NULL, "replayCursor" = NULL, "replayVersion" = NULL, "replayUntil" = NULL, "updatedAt" = now()
       WHERE "streamId" = $4::uuid AND "reducerId" = $1::uuid AND "replayVersion" = $2 AND "replayCursor" = $3 RETURNING 1)
     SELECT count(*)::int AS promoted FROM p`,
    [track.reducerId, track.version, track.cursor, streamId],
  );
  if (row?.promoted === 1) await publish(channelFor('folded', track.reducerId), String(track.cursor));
}
