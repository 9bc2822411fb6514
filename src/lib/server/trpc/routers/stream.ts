// Streams: list, get, create, update, delete, and the inbound signature (admins). Every query is scoped to ctx.team.
import { z } from 'zod';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';
import { AppError } from '../../errors.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { assertStreamCapacity, insertStream } from '../../streams/ensure-stream.ts';
import { streamIdFor } from '../../streams/stream-id.ts';
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
    // A join on the distribution column grouped by it, not a correlated subquery: on Citus every
    // shard counts its own streams (a management read across the team's shards).
    const recent = await ctx.db.$queryRaw<{ id: string; n: number }[]>`
      SELECT e."streamId" AS id, count(*)::int AS n
      FROM "Stream" s JOIN "Event" e ON e."streamId" = s.id
      WHERE s."teamId" = ${ctx.team.id}::uuid AND e."index" >= GREATEST(s.length - 10000, 0) AND e."receivedAt" > now() - interval '1 hour'
      GROUP BY e."streamId"`;
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
    const stream = await ctx.db.stream.findUnique({ where: { id: streamIdFor(ctx.team.slug, input.stream), teamId: ctx.team.id }, select: streamSelect });
    if (!stream) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
    return stream;
  }),

  create: teamProcedure.input(StreamSettings.extend({ stream: Slug })).mutation(async ({ ctx, input }) => {
    // `team` is the middleware's input, not a column.
    const { stream: slug, team: _team, ...settings } = input;
    const id = streamIdFor(ctx.team.slug, slug);
    const exists = () => new AppError('conflict', `Stream \`${slug}\` already exists.`);
    if (await ctx.db.stream.findUnique({ where: { id }, select: { id: true } })) throw exists();
    return ctx.db.$transaction(async (tx) => {
      await assertStreamCapacity(ctx.team.id, tx);
      // Two creations racing: the id is the same, and the second finds it taken.
      if (!(await insertStream({ teamId: ctx.team.id, teamSlug: ctx.team.slug, slug, name: settings.name }, tx))) throw exists();
      return tx.stream.update({ where: { id }, data: settings, select: streamSelect });
    });
  }),

  update: teamProcedure.input(StreamSettings.extend({ stream: Slug })).mutation(async ({ ctx, input }) => {
    // `team` is the middleware's input, not a column.
    const { stream: slug, team: _team, ...settings } = input;
    const id = streamIdFor(ctx.team.slug, slug);
    const { count } = await ctx.db.stream.updateMany({ where: { id, teamId: ctx.team.id }, data: settings });
    if (count === 0) throw new AppError('not_found', `No stream \`${slug}\`.`);
    // Every web process serves the new settings (public access, origins) before this returns.
    await invalidate({ kind: 'team', id: ctx.team.id });
    return ctx.db.stream.findUniqueOrThrow({ where: { id }, select: streamSelect });
  }),

  /** The inbound signature a stream requires, with its secret (admins: it is a credential). */
  signature: teamRoleProcedure('admin')
    .input(z.object({ stream: Slug }))
    .query(async ({ ctx, input }) => {
      const stream = await ctx.db.stream.findUnique({ where: { id: streamIdFor(ctx.team.slug, input.stream), teamId: ctx.team.id }, select: { signatureScheme: true, signatureSecret: true } });
      if (!stream) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
      return { scheme: stream.signatureScheme, secret: stream.signatureSecret };
    }),

  /**
   * Require every POST to be signed (Standard Webhooks, Stripe, GitHub) with `secret` (made here when
   * left out, except for Stripe, which makes its own), or stop requiring it (`scheme: null`).
   */
  setSignature: teamRoleProcedure('admin')
    .input(StreamSignatureInput)
    .mutation(({ ctx, input }) => setStreamSignature({ teamId: ctx.team.id, teamSlug: ctx.team.slug, slug: input.stream, scheme: input.scheme, secret: input.secret, db: ctx.db })),

  delete: teamRoleProcedure('admin')
    .input(z.object({ stream: Slug, confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== input.stream) throw new AppError('bad_request', `Type the stream's name (\`${input.stream}\`) to confirm deleting it and all its events.`);
      const id = streamIdFor(ctx.team.slug, input.stream);
      // The stream's keys go in the same transaction: ApiKey (a reference table on Citus) has no
      // foreign key into Stream to cascade through. Everything else of the stream cascades on its shard.
      const count = await ctx.db.$transaction(async (tx) => {
        const { count } = await tx.stream.deleteMany({ where: { id, teamId: ctx.team.id } });
        if (count > 0) await tx.apiKey.deleteMany({ where: { streamId: id, teamId: ctx.team.id } });
        return count;
      });
      if (count === 0) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
      await invalidate({ kind: 'team', id: ctx.team.id });
      return { deleted: input.stream };
    }),
});
