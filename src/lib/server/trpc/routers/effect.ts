// Effects: what reducers asked for and what became of it (list, get with attempts, retry), and the
// team's email outbox. Every query is scoped to ctx.team: another team's effect is NOT_FOUND.
// An effect's key is (streamId, id); the ids receivers see come alone, so `get` and `retry` by id
// look the effect up across the team's streams (on Citus, every shard: management rates only).
// The outbox never shows an invite's link: it is a credential, shown once to whoever invited.
import { z } from 'zod';
import { router, teamProcedure } from '../init.ts';
import { AppError } from '../../errors.ts';
import { retryEffects } from '../../effects/retry-effects.ts';
import { specOf } from '../../effects/kinds/index.ts';
import { explainEffect } from '../../effects/explain-effect.ts';
import { interactiveCall } from '../../reducers/interactive-call.ts';
import { countEffectsByStatus } from '../../effects/count-effects-by-status.ts';
import { EffectKind, EffectStatus, Slug } from '../../../schemas/vocabulary.ts';
import { streamIdFor } from '../../streams/stream-id.ts';

const ReducerName = z.string().min(1).max(100);
const Page = { cursor: z.string().max(200).optional(), limit: z.number().int().min(1).max(100).default(50) };

export const EffectListInput = z.object({
  stream: Slug.optional(),
  reducer: ReducerName.optional(),
  status: EffectStatus.optional(),
  kind: EffectKind.optional(),
  ...Page,
});

export const EffectRetryInput = z.union([
  z.object({ id: z.string().min(1).max(200) }),
  z.object({ stream: Slug, reducer: ReducerName }),
]);

const effectSelect = {
  id: true,
  kind: true,
  status: true,
  payload: true,
  attempts: true,
  nextAttemptAt: true,
  lastError: true,
  deliveredAt: true,
  createdAt: true,
  version: true,
  eventIndex: true,
  ordinal: true,
  reducer: { select: { name: true, stream: { select: { slug: true } } } },
} as const;

type Selected = { kind: EffectKind; payload: unknown; reducer: { name: string; stream: { slug: string } } };

/** A row as the app shows it: stream and reducer by name, and the kind's one-line summary. */
const flatten = <T extends Selected>({ reducer, ...rest }: T) => ({ ...rest, stream: reducer.stream.slug, reducer: reducer.name, summary: summarize(rest.kind, rest.payload) });

function parseCursor(cursor: string): { streamId: string; id: string } {
  const streamId = cursor.slice(0, 36);
  if (cursor[36] !== '.' || !z.uuid().safeParse(streamId).success) throw new AppError('bad_request', 'This cursor is not one a page of effects gave.');
  return { streamId, id: cursor.slice(37) };
}

const INVITE_LINK = /\/invite\/[a-z0-9]{16,128}/gi;
const REDACTED_LINK = '/invite/[link hidden: shown once to whoever sent the invite]';

/**
 * An email of Pipet's own (an invite: no effectId) as the outbox lists it: the link's token taken
 * out, for every caller. A member could otherwise read an admin's invite; an admin who lost the
 * link invites again, which replaces it.
 */
function redactInvite<T extends { effectId: string | null; text: string | null; html: string | null }>(row: T): T {
  if (row.effectId !== null) return row;
  return { ...row, text: row.text?.replace(INVITE_LINK, REDACTED_LINK) ?? null, html: row.html?.replace(INVITE_LINK, REDACTED_LINK) ?? null };
}

function summarize(kind: EffectKind, payload: unknown): string {
  const parsed = specOf(kind).payload.safeParse(payload);
  return parsed.success ? specOf(kind).summary(parsed.data as never) : `${kind} (unreadable payload)`;
}

export const effectRouter = router({
  list: teamProcedure.input(EffectListInput).query(async ({ ctx, input }) => {
    // The cursor is the last row's key, `<streamId>.<id>`.
    const cursor = input.cursor ? parseCursor(input.cursor) : null;
    const rows = await ctx.db.effect.findMany({
      where: {
        teamId: ctx.team.id,
        status: input.status,
        kind: input.kind,
        // One stream: its shard only.
        ...(input.stream ? { streamId: streamIdFor(ctx.team.slug, input.stream) } : {}),
        ...(input.reducer ? { reducer: { name: input.reducer } } : {}),
      },
      select: { ...effectSelect, streamId: true },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: input.limit + 1,
      ...(cursor ? { cursor: { streamId_id: cursor }, skip: 1 } : {}),
    });
    const more = rows.length > input.limit;
    const page = rows.slice(0, input.limit);
    const last = page[page.length - 1];
    return { items: page.map(({ streamId: _, ...row }) => flatten(row)), nextCursor: more ? `${last.streamId}.${last.id}` : null };
  }),

  /** Effects created per time bucket over the last `hours`, by status. */
  activity: teamProcedure
    .input(z.object({ hours: z.number().int().min(1).max(24 * 7).default(24), buckets: z.number().int().min(6).max(96).default(48) }))
    .query(({ ctx, input }) => countEffectsByStatus({ teamId: ctx.team.id, hours: input.hours, buckets: input.buckets, db: ctx.db })),

  get: teamProcedure.input(z.object({ id: z.string().min(1).max(200) })).query(async ({ ctx, input, signal }) => {
    const effect = await ctx.db.effect.findFirst({
      where: { id: input.id, teamId: ctx.team.id },
      select: { ...effectSelect, streamId: true, reducerId: true, stateKey: true, attemptLog: { orderBy: { startedAt: 'asc' }, select: { startedAt: true, durationMs: true, statusCode: true, error: true, responseExcerpt: true } } },
    });
    if (!effect) throw new AppError('not_found', `No effect \`${input.id}\`.`);
    const { attemptLog, streamId, reducerId, stateKey, ...rest } = effect;
    // Explaining folds the history twice (time travel): an interactive call, capped and budgeted like
    // `?at=`. Over the cap the effect is still answered, with the cause left for a moment later.
    const cause = await interactiveCall({ teamId: ctx.team.id, signal }, () => explainEffect({ streamId, reducerId, version: rest.version, eventIndex: rest.eventIndex, stateKey })).catch((e: unknown) => {
      if (e instanceof AppError && (e.code === 'rate_limited' || e.code === 'unavailable')) return { unavailable: e.message };
      throw e;
    });
    return { ...flatten(rest), attemptLog, cause };
  }),

  /** One failed effect (`id`), or every failed effect of a reducer (`stream` + `reducer`). */
  retry: teamProcedure.input(EffectRetryInput).mutation(async ({ ctx, input }) => {
    if ('id' in input) {
      const effect = await ctx.db.effect.findFirst({ where: { id: input.id, teamId: ctx.team.id }, select: { status: true } });
      if (!effect) throw new AppError('not_found', `No effect \`${input.id}\`.`);
      if (effect.status !== 'failed') throw new AppError('conflict', `Effect \`${input.id}\` is ${effect.status}; only failed effects can be retried.`);
      return retryEffects({ teamId: ctx.team.id, effectId: input.id, db: ctx.db });
    }
    const streamId = streamIdFor(ctx.team.slug, input.stream);
    const reducer = await ctx.db.reducer.findFirst({ where: { streamId, name: input.reducer, stream: { teamId: ctx.team.id } }, select: { id: true } });
    if (!reducer) throw new AppError('not_found', `No reducer \`${input.reducer}\` on stream \`${input.stream}\`.`);
    return retryEffects({ teamId: ctx.team.id, streamId, reducerId: reducer.id, db: ctx.db });
  }),

  /** The team's emails, newest first: sent through SMTP, failed, or stored (no SMTP configured). */
  emails: teamProcedure.input(z.object({ ...Page, cursor: z.uuid().optional() })).query(async ({ ctx, input }) => {
    const rows = await ctx.db.emailMessage.findMany({
      where: { teamId: ctx.team.id },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: input.limit + 1,
      ...(input.cursor ? { cursor: { teamId_id: { teamId: ctx.team.id, id: input.cursor } }, skip: 1 } : {}),
    });
    const more = rows.length > input.limit;
    const items = rows.slice(0, input.limit).map(({ teamId: _teamId, ...rest }) => redactInvite(rest));
    return { items, nextCursor: more ? items[items.length - 1].id : null };
  }),
});
