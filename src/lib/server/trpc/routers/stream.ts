// Streams: list, get, create, update, delete, and the inbound signature (admins). Every query is scoped to ctx.team.
import { z } from 'zod';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';
import { AppError } from '../../errors.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { assertStreamCapacity } from '../../streams/ensure-stream.ts';
import { Slug, StreamSettings, StreamSignatureInput } from '../../../schemas/index.ts';
import { setStreamSignature } from '../../auth/set-stream-signature.ts';
import { countEventsPerMinute } from '../../streams/count-events-per-minute.ts';

const streamSelect = {
  id: true,
  slug: true,
  name: true,
  length: true,
  publicRead: true,
  publicWrite: true,
  allowedOrigins: true,
  // The scheme only: the secret is for admins (`stream.signature`).
  signatureScheme: true,
  lastEventAt: true,
  createdAt: true,
} as const;

export const streamRouter = router({
  list: teamProcedure.query(async ({ ctx }) => {
    const streams = await ctx.db.stream.findMany({ where: { teamId: ctx.team.id }, select: streamSelect, orderBy: { slug: 'asc' } });
    // Events in the last hour, counted among each stream's newest 10,000 (a bounded index range scan).
    const recent = await ctx.db.$queryRaw<{ id: string; n: number }[]>`
      SELECT s.id, (SELECT count(*)::int FROM "Event" e
                    WHERE e."streamId" = s.id AND e."index" >= GREATEST(s.length - 10000, 0)
                      AND e."receivedAt" > now() - interval '1 hour') AS n
      FROM "Stream" s WHERE s."teamId" = ${ctx.team.id}::uuid`;
    const byId = new Map(recent.map((r) => [r.id, r.n]));
    return streams.map((s) => ({ ...s, eventsLastHour: byId.get(s.id) ?? 0 }));
  }),

  /** Events per minute over the last hour: one stream, or the team's 100 most recently active. */
  activity: teamProcedure.input(z.object({ stream: Slug.optional() })).query(async ({ ctx, input }) => {
    const streams = await ctx.db.stream.findMany({
      where: { teamId: ctx.team.id, ...(input.stream ? { slug: input.stream } : {}) },
      select: { id: true, slug: true, length: true, lastEventAt: true },
      orderBy: { lastEventAt: { sort: 'desc', nulls: 'last' } },
      take: 100,
    });
    if (input.stream && streams.length === 0) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
    const { minutes, rates } = await countEventsPerMinute({ streams, db: ctx.db });
    const slugs = new Map(streams.map((s) => [s.id, s.slug]));
    return { minutes, streams: rates.map((r) => ({ stream: slugs.get(r.streamId)!, perMinute: r.perMinute })) };
  }),

  get: teamProcedure.input(z.object({ stream: Slug })).query(async ({ ctx, input }) => {
    const stream = await ctx.db.stream.findUnique({ where: { teamId_slug: { teamId: ctx.team.id, slug: input.stream } }, select: streamSelect });
    if (!stream) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
    return stream;
  }),

  create: teamProcedure.input(StreamSettings.extend({ stream: Slug })).mutation(async ({ ctx, input }) => {
    // `team` is the middleware's input, not a column.
    const { stream: slug, team: _team, ...settings } = input;
    const taken = await ctx.db.stream.findUnique({ where: { teamId_slug: { teamId: ctx.team.id, slug } }, select: { id: true } });
    if (taken) throw new AppError('conflict', `Stream \`${slug}\` already exists.`);
    return ctx.db.$transaction(async (tx) => {
      await assertStreamCapacity(ctx.team.id, tx);
      return tx.stream.create({ data: { teamId: ctx.team.id, slug, name: settings.name ?? slug, ...settings }, select: streamSelect });
    });
  }),

  update: teamProcedure.input(StreamSettings.extend({ stream: Slug })).mutation(async ({ ctx, input }) => {
    // `team` is the middleware's input, not a column.
    const { stream: slug, team: _team, ...settings } = input;
    const { count } = await ctx.db.stream.updateMany({ where: { teamId: ctx.team.id, slug }, data: settings });
    if (count === 0) throw new AppError('not_found', `No stream \`${slug}\`.`);
    // Every web process serves the new settings (public access, origins) before this returns.
    await invalidate({ kind: 'team', id: ctx.team.id });
    return ctx.db.stream.findUniqueOrThrow({ where: { teamId_slug: { teamId: ctx.team.id, slug } }, select: streamSelect });
  }),

  /** The inbound signature a stream requires, with its secret (admins: it is a credential). */
  signature: teamRoleProcedure('admin')
    .input(z.object({ stream: Slug }))
    .query(async ({ ctx, input }) => {
      const stream = await ctx.db.stream.findUnique({ where: { teamId_slug: { teamId: ctx.team.id, slug: input.stream } }, select: { signatureScheme: true, signatureSecret: true } });
      if (!stream) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
      return { scheme: stream.signatureScheme, secret: stream.signatureSecret };
    }),

  /**
   * Require every POST to be signed (Standard Webhooks, Stripe, GitHub) with `secret` (made here when
   * left out, except for Stripe, which makes its own), or stop requiring it (`scheme: null`).
   */
  setSignature: teamRoleProcedure('admin')
    .input(StreamSignatureInput)
    .mutation(({ ctx, input }) => setStreamSignature({ teamId: ctx.team.id, slug: input.stream, scheme: input.scheme, secret: input.secret, db: ctx.db })),

  delete: teamRoleProcedure('admin')
    .input(z.object({ stream: Slug, confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== input.stream) throw new AppError('bad_request', `Type the stream's name (\`${input.stream}\`) to confirm deleting it and all its events.`);
      const { count } = await ctx.db.stream.deleteMany({ where: { teamId: ctx.team.id, slug: input.stream } });
      if (count === 0) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
      await invalidate({ kind: 'team', id: ctx.team.id });
      return { deleted: input.stream };
    }),
});
