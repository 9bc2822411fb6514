// Invites: admins invite by email with a role (teams/invite-member.ts); the emailed link's token
// works once within 7 days, and only for the account whose verified email was invited. The link is
// in `create`'s answer and the email only: `list` never returns it. `preview` and `accept` take the
// token itself and need no membership.
import { z } from 'zod';
import { Email } from '../../auth/create-user.ts';
import { AppError } from '../../errors.ts';
import { acceptInvite, findPendingInvite, INVITE_GONE } from '../../teams/accept-invite.ts';
import { inviteMember, inviteSelect } from '../../teams/invite-member.ts';
import { Role } from '../../../schemas/vocabulary.ts';
import { publicProcedure, router, teamRoleProcedure, userProcedure } from '../init.ts';
import { audited, recordAudit } from '../../audit/record-audit.ts';

const Token = z.object({ token: z.string().min(1).max(128) });

export const inviteRouter = router({
  create: teamRoleProcedure('admin')
    .input(z.object({ email: Email, role: Role.default('member') }))
    .mutation(async ({ ctx, input }) => {
      const invite = await inviteMember({
        team: ctx.team,
        inviterRole: ctx.role,
        inviter: ctx.caller.kind === 'user' ? { userId: ctx.caller.userId, email: ctx.caller.email } : null,
        email: input.email,
        role: input.role,
        requestOrigin: ctx.origin,
        db: ctx.db,
      });
      // After inviteMember's own commit; never the link (its token is the credential).
      await recordAudit(ctx, [ctx.team], { action: 'member.invited', target: { invite: invite.id, email: invite.email, role: invite.role } });
      return invite;
    }),

  /** Pending invites (neither accepted nor revoked); expired ones are flagged. */
  list: teamRoleProcedure('admin').query(async ({ ctx }) => {
    const rows = await ctx.db.invite.findMany({ where: { teamId: ctx.team.id, acceptedAt: null, revokedAt: null }, select: inviteSelect, orderBy: { createdAt: 'desc' } });
    const now = Date.now();
    return rows.map((r) => ({ ...r, expired: r.expiresAt.getTime() <= now }));
  }),

  revoke: teamRoleProcedure('admin')
    .input(z.object({ id: z.string().uuid() }))
    .mutation(async ({ ctx, input }) => {
      const { count } = await audited(
        ctx,
        [ctx.team],
        (tx) => tx.invite.updateMany({ where: { id: input.id, teamId: ctx.team.id, acceptedAt: null, revokedAt: null }, data: { revokedAt: new Date() } }),
        async ({ count }, tx) => {
          const invite = count > 0 ? await tx.invite.findUniqueOrThrow({ where: { id: input.id }, select: { email: true, role: true } }) : null;
          return invite && { action: 'member.invite_revoked', target: { invite: input.id, email: invite.email, role: invite.role } };
        },
      );
      if (count === 0) throw new AppError('not_found', 'No pending invite with this id.');
      return { revoked: input.id };
    }),

  /** The team and role a link invites to; anyone holding the link may see it, the address masked unless it is theirs. */
  preview: publicProcedure.input(Token).query(async ({ ctx, input }) => {
    const invite = await findPendingInvite(input.token, ctx.caller.kind === 'user' ? ctx.caller.email : null, ctx.db);
    if (!invite) throw new AppError('not_found', INVITE_GONE);
    return { team: invite.team, email: invite.email, forYou: invite.forViewer, role: invite.role, expiresAt: invite.expiresAt, invitedBy: invite.invitedBy?.email ?? null };
  }),

  accept: userProcedure.input(Token).mutation(async ({ ctx, input }) => {
    const joined = await acceptInvite({ token: input.token, userId: ctx.caller.userId, db: ctx.db });
    const team = await ctx.db.team.findUnique({ where: { slug: joined.team.slug }, select: { id: true, slug: true } });
    if (team) await recordAudit(ctx, [team], { action: 'member.joined', target: { userId: ctx.caller.userId, email: ctx.caller.email, role: joined.role } });
    return joined;
  }),
});
