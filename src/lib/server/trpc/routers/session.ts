// The signed-in person's own sessions: list them (device, address, last seen, this one), end one, or
// end all but this one. Every query is scoped to the caller's own user id, so another person's
// session cannot be named, listed or ended: it is NOT_FOUND, like one that does not exist.
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { invalidateUserSessions, sessionHandle } from '../../auth/sessions.ts';
import { router, userProcedure } from '../init.ts';
import type { DbTx } from '../../db/client.ts';
import { audited } from '../../audit/record-audit.ts';

/** A person's sessions are theirs, not a team's: an ended one is written to each of their teams' audit logs. */
const teamsOf = async (db: DbTx, userId: string) => (await db.membership.findMany({ where: { userId }, select: { team: { select: { id: true, slug: true } } } })).map((m) => m.team);

export const sessionRouter = router({
  list: userProcedure.query(async ({ ctx }) => {
    const rows = await ctx.db.session.findMany({
      where: { userId: ctx.caller.userId, expiresAt: { gt: new Date() } },
      select: { id: true, userAgent: true, address: true, createdAt: true, lastSeenAt: true, twoFactorVerified: true },
      orderBy: { lastSeenAt: 'desc' },
    });
    return rows.map(({ id, ...row }) => ({ id: sessionHandle(id), ...row, current: id === ctx.caller.sessionId }));
  }),

  /** Ends one of the caller's sessions (this one included: that is logging out). Its live streams end within LIVE_REAUTH_MS. */
  end: userProcedure.input(z.object({ id: z.string().regex(/^[0-9a-f]{32}$/, 'a session id from session.list') })).mutation(async ({ ctx, input }) => {
    const own = await ctx.db.session.findMany({ where: { userId: ctx.caller.userId }, select: { id: true, userAgent: true, address: true } });
    const match = own.find((s) => sessionHandle(s.id) === input.id);
    if (!match) throw new AppError('not_found', 'No such session: it may have ended already.');
    const userId = ctx.caller.userId;
    const current = match.id === ctx.caller.sessionId;
    await audited(
      ctx,
      await teamsOf(ctx.db, userId),
      (tx) => tx.session.deleteMany({ where: { id: match.id, userId } }),
      ({ count }) => (count > 0 ? { action: 'session.ended', target: { userId, session: input.id, device: match.userAgent, address: match.address, current } } : null),
    );
    return { ended: 1, current: match.id === ctx.caller.sessionId };
  }),

  /** Ends every session of the caller but the one making this call. */
  endOthers: userProcedure.mutation(async ({ ctx }) => {
    const { userId, sessionId } = ctx.caller;
    const ended = await audited(
      ctx,
      await teamsOf(ctx.db, userId),
      (tx) => invalidateUserSessions(userId, tx, sessionId ?? null),
      (count) => (count > 0 ? { action: 'session.ended', target: { userId, count, others: true } } : null),
    );
    return { ended };
  }),
});
