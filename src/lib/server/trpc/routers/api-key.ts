// API keys of a team: create (the secret is returned once), list without secrets, revoke.
import { z } from 'zod';
import { createApiKey } from '../../auth/api-keys.ts';
import { Scope, Slug as StreamSlug } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { router, teamRoleProcedure } from '../init.ts';
import { streamIdFor } from '../../streams/stream-id.ts';


export const apiKeyRouter = router({
  create: teamRoleProcedure('admin')
    .input(z.object({ name: z.string().trim().min(1, 'Name the key (where it is used).').max(100), scopes: z.array(Scope).min(1).max(3), stream: StreamSlug.optional() }))
    .mutation(async ({ ctx, input }) => {
      const streamId = input.stream ? streamIdFor(ctx.team.slug, input.stream) : null;
      const createdById = ctx.caller.kind === 'user' ? ctx.caller.userId : null;
      // One transaction: createApiKey holds the stream's row until the key is in (no foreign key does).
      const key = await ctx.db
        .$transaction((tx) => createApiKey({ teamId: ctx.team.id, name: input.name, scopes: input.scopes, streamId, createdById, db: tx }))
        .catch((error: unknown) => {
          throw error instanceof AppError && error.code === 'not_found' ? new AppError('not_found', `No stream \`${input.stream}\`.`) : error;
        });
      return { id: key.id, name: key.name, prefix: key.prefix, scopes: key.scopes, stream: input.stream ?? null, createdAt: key.createdAt, key: key.key };
    }),

  /** Live keys, newest first: never the secret or its hash. */
  list: teamRoleProcedure('admin').query(async ({ ctx }) => {
    const rows = await ctx.db.apiKey.findMany({
      where: { teamId: ctx.team.id, revokedAt: null },
      select: { id: true, name: true, prefix: true, scopes: true, lastUsedAt: true, createdAt: true, streamId: true, createdBy: { select: { email: true } } },
      orderBy: { createdAt: 'desc' },
    });
    // The streams' slugs in a second read (no relation: ApiKey is a reference table, Stream distributed).
    const ids = [...new Set(rows.flatMap((k) => (k.streamId ? [k.streamId] : [])))];
    const streams = ids.length ? await ctx.db.stream.findMany({ where: { id: { in: ids }, teamId: ctx.team.id }, select: { id: true, slug: true } }) : [];
    const slugOf = new Map(streams.map((s) => [s.id, s.slug]));
    return rows.map(({ streamId, createdBy, ...k }) => ({ ...k, stream: streamId ? (slugOf.get(streamId) ?? null) : null, createdBy: createdBy?.email ?? null }));
  }),

  /** Takes effect at once: every web process has dropped the key from its cache before this returns. */
  revoke: teamRoleProcedure('admin')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const { count } = await ctx.db.apiKey.updateMany({ where: { id: input.id, teamId: ctx.team.id, revokedAt: null }, data: { revokedAt: new Date() } });
      if (count === 0) throw new AppError('not_found', 'No such key in this team.');
      await invalidate({ kind: 'key', id: input.id });
      return { revoked: input.id };
    }),
});
