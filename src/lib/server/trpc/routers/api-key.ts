// API keys of a team: create (the secret is returned once), list without secrets, revoke.
import { z } from 'zod';
import { createApiKey } from '../../auth/api-keys.ts';
import { Scope } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { invalidate } from '../../auth/auth-cache.ts';
import { router, teamRoleProcedure } from '../init.ts';
import type { Context } from '../context.ts';
import { streamIdFor } from '../../streams/stream-id.ts';
import { AUDIT_STREAM_SLUG, StreamRef as StreamSlug } from '../../audit/audit-stream.ts';
import { audited } from '../../audit/record-audit.ts';

const keyTarget = (k: { id: string; name: string; prefix: string }) => ({ key: k.id, name: k.name, prefix: k.prefix });


/**
 * Who a new key is recorded as created by: the signed-in person, or for a key made with a manage
 * key, that key's own creator (and the key itself), so every key names a person, forever.
 */
async function creatorOf({ db, caller }: Pick<Context, 'db' | 'caller'>): Promise<{ createdById: string | null; createdByKeyId: string | null }> {
  if (caller.kind === 'user') return { createdById: caller.userId, createdByKeyId: null };
  if (caller.kind !== 'key') return { createdById: null, createdByKeyId: null };
  const parent = await db.apiKey.findUnique({ where: { id: caller.keyId }, select: { createdById: true } });
  return { createdById: parent?.createdById ?? null, createdByKeyId: caller.keyId };
}

export const apiKeyRouter = router({
  create: teamRoleProcedure('admin')
    .input(z.object({ name: z.string().trim().min(1, 'Name the key (where it is used).').max(100), scopes: z.array(Scope).min(1).max(3), stream: StreamSlug.optional() }))
    .mutation(async ({ ctx, input }) => {
      // The audit log may have a key of its own, to read it (a SIEM's, say): nothing may append to it.
      if (input.stream === AUDIT_STREAM_SLUG && input.scopes.some((s) => s !== 'read')) throw new AppError('bad_request', 'A key limited to the audit log (`_audit`) can only read it: give it the `read` scope alone.');
      const streamId = input.stream ? streamIdFor(ctx.team.slug, input.stream) : null;
      const creator = await creatorOf(ctx);
      // One transaction: createApiKey holds the stream's row until the key is in (no foreign key does); the audit entry commits with the key.
      const key = await audited(
        ctx,
        [ctx.team],
        (tx) => createApiKey({ teamId: ctx.team.id, name: input.name, scopes: input.scopes, streamId, ...creator, db: tx }),
        (k) => ({ action: 'key.created', target: { ...keyTarget(k), scopes: k.scopes, stream: input.stream ?? null } }),
      ).catch((error: unknown) => {
        throw error instanceof AppError && error.code === 'not_found' ? new AppError('not_found', `No stream \`${input.stream}\`.`) : error;
      });
      return { id: key.id, name: key.name, prefix: key.prefix, scopes: key.scopes, stream: input.stream ?? null, createdAt: key.createdAt, key: key.key };
    }),

  /** Live keys, newest first: never the secret or its hash. */
  list: teamRoleProcedure('admin').query(async ({ ctx }) => {
    const rows = await ctx.db.apiKey.findMany({
      where: { teamId: ctx.team.id, revokedAt: null },
      select: { id: true, name: true, prefix: true, scopes: true, lastUsedAt: true, createdAt: true, streamId: true, createdByKeyId: true, createdBy: { select: { email: true } } },
      orderBy: { createdAt: 'desc' },
    });
    // The streams' slugs in a second read (no relation: ApiKey is a reference table, Stream distributed).
    const ids = [...new Set(rows.flatMap((k) => (k.streamId ? [k.streamId] : [])))];
    const streams = ids.length ? await ctx.db.stream.findMany({ where: { id: { in: ids }, teamId: ctx.team.id }, select: { id: true, slug: true } }) : [];
    const slugOf = new Map(streams.map((s) => [s.id, s.slug]));
    // A key made by a key names that key (its prefix) beside their common creator.
    const viaIds = [...new Set(rows.flatMap((k) => (k.createdByKeyId ? [k.createdByKeyId] : [])))];
    const via = viaIds.length ? await ctx.db.apiKey.findMany({ where: { id: { in: viaIds } }, select: { id: true, prefix: true } }) : [];
    const prefixOf = new Map(via.map((k) => [k.id, k.prefix]));
    return rows.map(({ streamId, createdBy, createdByKeyId, ...k }) => ({
      ...k,
      stream: streamId ? (slugOf.get(streamId) ?? null) : null,
      createdBy: createdBy?.email ?? null,
      createdByKey: createdByKeyId ? (prefixOf.get(createdByKeyId) ?? null) : null,
    }));
  }),

  /** An admin takes a key over before its creator leaves: it is then theirs, and survives the removal. */
  handOver: teamRoleProcedure('admin')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'A key is handed over to a person: sign in to take it over.');
      const caller = ctx.caller;
      const { count } = await audited(
        ctx,
        [ctx.team],
        (tx) => tx.apiKey.updateMany({ where: { id: input.id, teamId: ctx.team.id, revokedAt: null }, data: { createdById: caller.userId, createdByKeyId: null } }),
        async ({ count }, tx) => (count > 0 ? { action: 'key.handed_over', target: keyTarget(await tx.apiKey.findUniqueOrThrow({ where: { id: input.id } })) } : null),
      );
      if (count === 0) throw new AppError('not_found', 'No such key in this team.');
      return { id: input.id, createdBy: ctx.caller.email };
    }),

  /** Takes effect at once: every web process has dropped the key from its cache before this returns. */
  revoke: teamRoleProcedure('admin')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const { count } = await audited(
        ctx,
        [ctx.team],
        (tx) => tx.apiKey.updateMany({ where: { id: input.id, teamId: ctx.team.id, revokedAt: null }, data: { revokedAt: new Date() } }),
        async ({ count }, tx) => (count > 0 ? { action: 'key.revoked', target: keyTarget(await tx.apiKey.findUniqueOrThrow({ where: { id: input.id } })) } : null),
      );
      if (count === 0) throw new AppError('not_found', 'No such key in this team.');
      await invalidate({ kind: 'key', id: input.id });
      return { revoked: input.id };
    }),
});
