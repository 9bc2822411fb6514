// The signed-in person's own sessions: list them (device, address, last seen, this one), end one, or
// end all but this one. Every query is scoped to the caller's own user id, so another person's
// session cannot be named, listed or ended: it is NOT_FOUND, like one that does not exist.
import { z } from 'zod';
import { AppError } from '../../errors.ts';
import { invalidateUserSessions, sessionHandle } from '../../auth/sessions.ts';
import { router, userProcedure } from '../init.ts';

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
    const own = await ctx.db.session.findMany({ where: { userId: ctx.caller.userId }, select: { id: true } });
    const match = own.find((s) => sessionHandle(s.id) === input.id);
    if (!match) throw new AppError('not_found', 'No such session: it may have ended already.');
    await ctx.db.session.deleteMany({ where: { id: match.id, userId: ctx.caller.userId } });
    return { ended: 1, current: match.id === ctx.caller.sessionId };
  }),

  /** Ends every session of the caller but the one making this call. */
  endOthers: userProcedure.mutation(async ({ ctx }) => ({ ended: await invalidateUserSessions(ctx.caller.userId, ctx.db, ctx.caller.sessionId ?? null) })),
});
