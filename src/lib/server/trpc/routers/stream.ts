// Streams: list, get, create, update, delete, and the inbound signature (admins). Every query is scoped to ctx.team.
// The team's audit log (`_audit`, a system stream) is listed when asked for and read like any stream,
// but is never changed, signed or deleted here; every change to a stream is recorded in it.
import { z } from 'zod';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';
import { AppError } from '../../errors.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { assertStreamCapacity, insertStream } from '../../streams/ensure-stream.ts';
import { streamIdFor } from '../../streams/stream-id.ts';
import { Slug, StreamSettings, StreamSignatureInput } from '../../../schemas/index.ts';
import { setStreamSignature } from '../../auth/set-stream-signature.ts';
import { countEventsPerMinute } from '../../streams/count-events-per-minute.ts';
import { AUDIT_STREAM_SLUG, StreamRef, systemStreamChangeRefused } from '../../audit/audit-stream.ts';
import { audited, recordAudit } from '../../audit/record-audit.ts';

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
  system: true,
} as const;

/** Refuses a change to the audit log before anything is read or written (403, whoever asks). */
const keepSystem =
  (what: string) =>
  async <T>({ getRawInput, next }: { getRawInput: () => Promise<unknown>; next: () => Promise<T> }): Promise<T> => {
    const raw = await getRawInput();
    if (raw && typeof raw === 'object' && (raw as { stream?: unknown }).stream === AUDIT_STREAM_SLUG) throw systemStreamChangeRefused(what);
    return next();
  };

export const streamRouter = router({
  /** The team's streams; with `includeSystem`, its audit log too (marked `system: true`). */
  list: teamProcedure.input(z.object({ includeSystem: z.boolean().optional() })).query(async ({ ctx, input }) => {
    const streams = await ctx.db.stream.findMany({ where: { teamId: ctx.team.id, ...(input.includeSystem ? {} : { system: false }) }, select: streamSelect, orderBy: { slug: 'asc' } });
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
      where: { teamId: ctx.team.id, ...(input.stream ? { slug: input.stream } : { system: false }) },
      select: { id: true, slug: true, length: true, lastEventAt: true },
      orderBy: { lastEventAt: { sort: 'desc', nulls: 'last' } },
      take: 100,
    });
    if (input.stream && streams.length === 0) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
    const { minutes, rates } = await countEventsPerMinute({ streams, db: ctx.db });
    const slugs = new Map(streams.map((s) => [s.id, s.slug]));
    return { minutes, streams: rates.map((r) => ({ stream: slugs.get(r.streamId)!, perMinute: r.perMinute })) };
  }),

  get: teamProcedure.input(z.object({ stream: StreamRef })).query(async ({ ctx, input }) => {
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
    return audited(
      ctx,
      [ctx.team],
      async (tx) => {
        await assertStreamCapacity(ctx.team.id, tx);
        // Two creations racing: the id is the same, and the second finds it taken.
        if (!(await insertStream({ teamId: ctx.team.id, teamSlug: ctx.team.slug, slug, name: settings.name }, tx))) throw exists();
        return tx.stream.update({ where: { id }, data: settings, select: streamSelect });
      },
      () => ({ action: 'stream.created', target: { stream: slug, settings } }),
    );
  }),

  update: teamProcedure
    .use(keepSystem('renamed, made public or given other settings'))
    .input(StreamSettings.extend({ stream: Slug }))
    .mutation(async ({ ctx, input }) => {
      // `team` is the middleware's input, not a column.
      const { stream: slug, team: _team, ...settings } = input;
      const id = streamIdFor(ctx.team.slug, slug);
      const { count } = await audited(
        ctx,
        [ctx.team],
        (tx) => tx.stream.updateMany({ where: { id, teamId: ctx.team.id, system: false }, data: settings }),
        ({ count }) => (count > 0 ? { action: 'stream.settings_changed', target: { stream: slug, changes: settings } } : null),
      );
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
    .use(keepSystem('given a signature'))
    .input(StreamSignatureInput)
    .mutation(async ({ ctx, input }) => {
      const set = await setStreamSignature({ teamId: ctx.team.id, teamSlug: ctx.team.slug, slug: input.stream, scheme: input.scheme, secret: input.secret, db: ctx.db });
      // After its commit (setStreamSignature drops every process's cache itself). The scheme only: the secret is a credential.
      await recordAudit(ctx, [ctx.team], { action: 'stream.signature_changed', target: { stream: input.stream, scheme: set.scheme } });
      return set;
    }),

  delete: teamRoleProcedure('admin')
    .use(keepSystem('deleted'))
    .input(z.object({ stream: Slug, confirm: z.string() }))
    .mutation(async ({ ctx, input }) => {
      if (input.confirm !== input.stream) throw new AppError('bad_request', `Type the stream's name (\`${input.stream}\`) to confirm deleting it and all its events.`);
      const id = streamIdFor(ctx.team.slug, input.stream);
      // The stream's keys go in the same transaction: ApiKey (a reference table on Citus) has no
      // foreign key into Stream to cascade through. Everything else of the stream cascades on its shard.
      const count = await audited(
        ctx,
        [ctx.team],
        async (tx) => {
          const { count } = await tx.stream.deleteMany({ where: { id, teamId: ctx.team.id, system: false } });
          if (count > 0) await tx.apiKey.deleteMany({ where: { streamId: id, teamId: ctx.team.id } });
          return count;
        },
        (count) => (count > 0 ? { action: 'stream.deleted', target: { stream: input.stream } } : null),
      );
      if (count === 0) throw new AppError('not_found', `No stream \`${input.stream}\`.`);
      await invalidate({ kind: 'team', id: ctx.team.id });
      return { deleted: input.stream };
    }),
});
