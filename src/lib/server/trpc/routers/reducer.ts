// Reducers: the customer's `(state, event, index, stream) => newState`, versioned, folded live.
import { z } from 'zod';
import { router, teamProcedure } from '../init.ts';
import { AppError } from '../../errors.ts';
import type { Context } from '../context.ts';
import { assertCompiles, replayReducer, resumeReducer, skipFailingEvent, upsertReducer } from '../../reducers/manage-reducer.ts';
import { dryRunReducer } from '../../reducers/dry-run-reducer.ts';
import { stateAt } from '../../reducers/state-at.ts';
import { interactiveCall } from '../../reducers/interactive-call.ts';
import { readReplayPreview, startReplayPreview } from '../../reducers/preview-replay.ts';
import { enqueue } from '../../queue/enqueue.ts';
import { atLeast, Slug, type Role } from '../../../schemas/vocabulary.ts';
import { readReducerProgress } from '../../reducers/read-reducer-progress.ts';
import { streamIdFor } from '../../streams/stream-id.ts';
import { keyAt, keyHistory, listKeys, readKey } from '../../reducers/read-keys.ts';
import { deleteKey } from '../../reducers/delete-key.ts';
import { readKeyGrowth } from '../../reducers/read-key-growth.ts';
import { MAX_KEY_BYTES } from '../../reducers/sandbox/index.ts';
import { consume, limiter, SCAN_RATE_LIMIT_PER_MINUTE } from '../../rate-limit.ts';
import { StreamRef, systemStreamNeedsAdmin } from '../../audit/audit-stream.ts';
import { audited, recordAudit } from '../../audit/record-audit.ts';

// Any stream, the audit log (`_audit`) included: reducers fold it like any other, for its admins.
const StreamInput = z.object({ stream: StreamRef });
const ReducerInput = StreamInput.extend({ name: Slug });
const PREVIEW = 10_000;
const Key = z.string().min(1).refine((k) => Buffer.byteLength(k) <= MAX_KEY_BYTES, `A key is at most ${MAX_KEY_BYTES} bytes of UTF-8.`);
const KeyedInput = ReducerInput.extend({ key: Key });
const KeyBy = z.string().max(10 * 1024).nullish();

/** Where a keyed reducer's keys live; NOT_FOUND-style refusal for a reducer with one state. */
function keyScope(r: Awaited<ReturnType<typeof findReducer>>) {
  if (r.keyBy === null || !r.state) throw new AppError('bad_request', `Reducer \`${r.name}\` is not keyed: it has one state (reducer.get).`);
  return { streamId: r.streamId, reducerId: r.id, lineage: r.state.lineage };
}

const parse = (json: string) => JSON.parse(json) as unknown;

type TeamContext = Context & { team: { id: string; slug: string }; role: Role };

/** The audit log's reducers, like the log itself, are for admins (and manage keys). */
function checkSystem(ctx: TeamContext, stream: { system: boolean }): void {
  if (stream.system && !atLeast(ctx.role, 'admin')) throw systemStreamNeedsAdmin(ctx.team.slug);
}

async function findStream(ctx: TeamContext, slug: string) {
  const stream = await ctx.db.stream.findUnique({ where: { id: streamIdFor(ctx.team.slug, slug), teamId: ctx.team.id }, select: { id: true, slug: true, length: true, system: true } });
  if (!stream) throw new AppError('not_found', `No stream \`${slug}\`.`);
  checkSystem(ctx, stream);
  return stream;
}

/** By (streamId, name), the stream's id derived from the slugs: one shard. */
async function findReducer(ctx: TeamContext, input: { stream: string; name: string }) {
  const streamId = streamIdFor(ctx.team.slug, input.stream);
  const reducer = await ctx.db.reducer.findFirst({
    // The stream named by id too, so the join to it stays on the stream's shard (docs/scaling-citus.md).
    where: { streamId, name: input.name, stream: { id: streamId, teamId: ctx.team.id } },
    include: { state: true, stream: { select: { slug: true, length: true, system: true } } },
  });
  if (!reducer) throw new AppError('not_found', `No reducer \`${input.name}\` on stream \`${input.stream}\`.`);
  checkSystem(ctx, reducer.stream);
  return reducer;
}

function summary(r: Awaited<ReturnType<typeof findReducer>>) {
  const s = r.state;
  return {
    name: r.name,
    stream: r.stream.slug,
    version: r.version,
    enabled: r.enabled,
    status: s?.status ?? 'active',
    folded: s?.cursor ?? 0,
    length: r.stream.length,
    error: s?.status === 'errored' ? { message: s.errorMessage, stack: s.errorStack, index: s.errorIndex, at: s.erroredAt } : null,
    replay: s?.replayVersion != null ? { version: s.replayVersion, folded: s.replayCursor ?? 0, until: s.replayUntil ?? 0, length: r.stream.length } : null,
    skipped: s?.skipped ?? [],
    keyBy: r.keyBy,
    keyCount: r.keyBy === null ? null : (s?.keyCount ?? 0),
    updatedAt: r.updatedAt,
  };
}

export const reducerRouter = router({
  list: teamProcedure.input(StreamInput).query(async ({ ctx, input }) => {
    const stream = await findStream(ctx, input.stream);
    const reducers = await ctx.db.reducer.findMany({
      where: { streamId: stream.id },
      include: { state: true, stream: { select: { slug: true, length: true, system: true } } },
      orderBy: { name: 'asc' },
    });
    return reducers.map(summary);
  }),

  /** Folded, lag and replay progress of each reducer, stamped with the server's time (for rates and ETAs). */
  progress: teamProcedure.input(StreamInput).query(async ({ ctx, input }) => {
    const stream = await findStream(ctx, input.stream);
    return readReducerProgress({ streamId: stream.id, db: ctx.db });
  }),

  get: teamProcedure.input(ReducerInput).query(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    const stateJson = JSON.stringify(r.state?.state ?? null);
    const versions = await ctx.db.reducerVersion.findMany({ where: { streamId: r.streamId, reducerId: r.id }, select: { version: true, createdAt: true }, orderBy: { version: 'desc' }, take: 50 });
    return {
      ...summary(r),
      code: r.code,
      initialState: r.initialState,
      statePreview: stateJson.length > PREVIEW ? `${stateJson.slice(0, PREVIEW)}…` : stateJson,
      stateBytes: stateJson.length,
      versions,
    };
  }),

  upsert: teamProcedure
    .input(ReducerInput.extend({ code: z.string().min(1).max(100 * 1024), keyBy: KeyBy, initialState: z.json().optional(), replay: z.boolean().optional() }))
    .mutation(async ({ ctx, input, signal }) => {
      const stream = await findStream(ctx, input.stream);
      // Saving compiles the code in the web's sandbox pool: an interactive call like a dry run.
      const { reducer, created, changed } = await interactiveCall({ teamId: ctx.team.id, signal }, () => upsertReducer({ streamId: stream.id, name: input.name, code: input.code, keyBy: input.keyBy ?? null, initialState: input.initialState ?? null, replay: input.replay, db: ctx.db }));
      // After upsertReducer's own commit (record-audit.ts); a save that changed nothing is no action.
      if (changed) await recordAudit(ctx, [ctx.team], { action: 'reducer.saved', target: { stream: stream.slug, reducer: reducer.name, version: reducer.version, created, replay: input.replay ?? false } });
      return { name: reducer.name, version: reducer.version, created, changed };
    }),

  delete: teamProcedure.input(ReducerInput).mutation(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    await audited(
      ctx,
      [ctx.team],
      (tx) => tx.reducer.delete({ where: { streamId_id: { streamId: r.streamId, id: r.id } } }),
      () => ({ action: 'reducer.deleted', target: { stream: r.stream.slug, reducer: r.name, version: r.version } }),
    );
    return { deleted: r.name };
  }),

  resume: teamProcedure.input(ReducerInput).mutation(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    await resumeReducer({ streamId: r.streamId, reducerId: r.id, db: ctx.db });
    return { resumed: r.name };
  }),

  skip: teamProcedure.input(ReducerInput).mutation(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    return skipFailingEvent({ streamId: r.streamId, reducerId: r.id, db: ctx.db });
  }),

  /** One key's live state (keyed reducers). */
  state: teamProcedure.input(KeyedInput).query(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    const found = await readKey({ ...keyScope(r), key: input.key });
    if (!found) throw new AppError('not_found', `Reducer \`${r.name}\` has never seen the key \`${input.key}\`.`);
    return { key: found.key, state: parse(found.stateJson), index: found.index, folded: r.state?.cursor ?? 0 };
  }),

  /** A page of a keyed reducer's keys with their states, in code point order; `cursor` is the previous page's `next`. */
  keys: teamProcedure
    .input(ReducerInput.extend({ prefix: z.string().max(MAX_KEY_BYTES).optional(), cursor: z.string().max(4 * MAX_KEY_BYTES).nullish(), limit: z.number().int().min(1).max(1000).optional() }))
    .query(async ({ ctx, input }) => {
      const r = await findReducer(ctx, input);
      const page = await listKeys({ ...keyScope(r), prefix: input.prefix ?? '', after: input.cursor ?? null, limit: input.limit ?? 100 });
      return { keys: page.keys.map((k) => ({ key: k.key, state: parse(k.stateJson), index: k.index })), next: page.next, total: r.state?.keyCount ?? 0, folded: r.state?.cursor ?? 0 };
    }),

  /** One key's changes, newest first, each with the event that made it. */
  keyHistory: teamProcedure.input(KeyedInput.extend({ before: z.number().int().min(0).nullish(), limit: z.number().int().min(1).max(200).optional() })).query(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    const { changes, next } = await keyHistory({ ...keyScope(r), key: input.key, before: input.before ?? null, limit: input.limit ?? 50 });
    return { changes: changes.map((c) => ({ index: c.index, state: parse(c.stateJson), event: c.eventJson === null ? null : parse(c.eventJson), receivedAt: c.receivedAt })), next };
  }),

  /** Forgets one key: its state, its history and its pending timers. */
  deleteKey: teamProcedure.input(KeyedInput).mutation(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    keyScope(r);
    return deleteKey({ streamId: r.streamId, reducerId: r.id, key: input.key, db: ctx.db });
  }),

  /** The state right after event `index` (time travel): from the nearest snapshot, or for a keyed reducer that key's history. */
  stateAt: teamProcedure.input(ReducerInput.extend({ index: z.number().int().min(0), key: Key.optional() })).query(async ({ ctx, input, signal }) => {
    const r = await findReducer(ctx, input);
    if (r.keyBy !== null) {
      if (input.key === undefined) throw new AppError('bad_request', 'Time travel on a keyed reducer is per key: give `key`.');
      if (input.index >= (r.state?.cursor ?? 0)) throw new AppError('conflict', `Event ${input.index} is not folded yet; its state can be read once it is.`);
      const past = await keyAt({ ...keyScope(r), key: input.key, index: input.index });
      if (!past) throw new AppError('not_found', `Reducer \`${r.name}\` had not seen the key \`${input.key}\` by event ${input.index}.`);
      return { index: input.index, folded: input.index + 1, version: r.version, state: parse(past.stateJson) };
    }
    const stream = { id: r.streamId, slug: r.stream.slug, team: ctx.team.slug, teamId: ctx.team.id };
    const past = await interactiveCall({ teamId: ctx.team.id, signal }, (budget) => stateAt({ stream, reducerId: r.id, index: input.index, budget }));
    return { index: input.index, folded: past.folded, version: past.version, state: JSON.parse(past.stateJson) as unknown };
  }),

  /** Starts a preview of saving `code` with "replay from the start": the worker folds the history without effects. */
  previewReplay: teamProcedure
    .input(ReducerInput.extend({ code: z.string().min(1).max(100 * 1024), keyBy: KeyBy, initialState: z.json().optional() }))
    .mutation(async ({ ctx, input, signal }) => {
      const r = await findReducer(ctx, input);
      await interactiveCall({ teamId: ctx.team.id, signal }, async () => {
        await assertCompiles({ code: input.code, initialState: input.initialState ?? null, teamId: ctx.team.id });
        if (input.keyBy) await assertCompiles({ code: input.keyBy, initialState: null, teamId: ctx.team.id, what: 'keyBy' });
      });
      const preview = await startReplayPreview({ streamId: r.streamId, reducerId: r.id, code: input.code, keyBy: input.keyBy ?? null, initialState: input.initialState ?? null, db: ctx.db });
      await enqueue('preview', `preview-${preview.id}`, { previewId: preview.id, teamId: ctx.team.id, streamId: r.streamId });
      return preview;
    }),

  /** A replay preview's progress, and when done the old and new final states and the effects the replay would record. */
  preview: teamProcedure.input(ReducerInput.extend({ id: z.string().uuid() })).query(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    return readReplayPreview({ streamId: r.streamId, previewId: input.id, reducerId: r.id, db: ctx.db });
  }),

  replay: teamProcedure.input(ReducerInput).mutation(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    const { reducer } = await replayReducer({ streamId: r.streamId, reducerId: r.id, db: ctx.db });
    await recordAudit(ctx, [ctx.team], { action: 'reducer.replayed', target: { stream: r.stream.slug, reducer: r.name, version: reducer.version } });
    return { name: reducer.name, version: reducer.version, until: r.stream.length };
  }),

  /** Runs code against the stream's last N events (or given events) with no side effects. */
  dryRun: teamProcedure
    .input(
      StreamInput.extend({
        code: z.string().min(1).max(100 * 1024),
        keyBy: KeyBy,
        initialState: z.json().optional(),
        last: z.number().int().min(1).max(1000).optional(),
        events: z.array(z.json()).max(1000).optional(),
      }),
    )
    .mutation(async ({ ctx, input, signal }) => {
      const stream = await findStream(ctx, input.stream);
      return interactiveCall({ teamId: ctx.team.id, signal }, () => dryRunReducer({ team: ctx.team, stream, code: input.code, keyBy: input.keyBy, initialState: input.initialState, last: input.last, events: input.events, db: ctx.db }));
    }),

  /** A keyed reducer's live keys over time, by when each was first seen: cumulative counts per hour or day (at most ~100 buckets). */
  keyGrowth: teamProcedure.input(ReducerInput).query(async ({ ctx, input }) => {
    const r = await findReducer(ctx, input);
    const scope = keyScope(r);
    // It reads every key of the reducer: bounded per team, so no one can keep PostgreSQL scanning.
    await consume(limiter('key-growth', SCAN_RATE_LIMIT_PER_MINUTE, 60), ctx.team.id, 'Too many key-growth charts for this team; wait a moment.');
    return readKeyGrowth(scope);
  }),
});
