// Invites: admins invite by email with a role; the emailed link's token (stored hashed) works once
// within 7 days. `preview` and `accept` take the token itself and need no team membership.
import { z } from 'zod';
import { Email } from '../../auth/create-user.ts';
import { hashToken, randomToken } from '../../auth/tokens.ts';
import { sendEmail } from '../../effects/send-email.ts';
import { AppError } from '../../errors.ts';
import { acceptInvite, findPendingInvite, INVITE_GONE } from '../../teams/accept-invite.ts';
import { inviteLink } from '../../teams/invite-link.ts';
import { publicProcedure, router, teamRoleProcedure, userProcedure } from '../init.ts';
import { Role } from '../../../schemas/vocabulary.ts';

export const INVITE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const Token = z.object({ token: z.string().min(1).max(128) });

const inviteSelect = { id: true, email: true, role: true, expiresAt: true, createdAt: true, invitedBy: { select: { email: true } } } as const;

export const inviteRouter = router({
  create: teamRoleProcedure('admin')
    .input(z.object({ email: Email, role: Role.default('member') }))
    .mutation(async ({ ctx, input }) => {
      if (input.role === 'owner' && ctx.role !== 'owner') throw new AppError('forbidden', 'Only an owner can invite an owner.');
      const existing = await ctx.db.membership.findFirst({ where: { teamId: ctx.team.id, user: { email: input.email } }, select: { role: true } });
      if (existing) throw new AppError('conflict', `${input.email} is already a member of this team.`);
      const token = randomToken(20);
      const invitedById = ctx.caller.kind === 'user' ? ctx.caller.userId : null;
      const invite = await ctx.db.$transaction(async (tx) => {
        // A new invite to the same address replaces the pending one: only the newest link works.
        await tx.invite.updateMany({ where: { teamId: ctx.team.id, email: input.email, acceptedAt: null, revokedAt: null }, data: { revokedAt: new Date() } });
        return tx.invite.create({
          data: { teamId: ctx.team.id, email: input.email, role: input.role, tokenHash: hashToken(token), invitedById, expiresAt: new Date(Date.now() + INVITE_LIFETIME_MS) },
          select: inviteSelect,
        });
      });
      const url = inviteLink(token, ctx.origin);
      const by = ctx.caller.kind === 'user' ? ctx.caller.email : 'An admin';
      let emailStatus: 'sent' | 'stored' | 'failed';
      try {
        const sent = await sendEmail({
          teamId: ctx.team.id,
          db: ctx.db,
          email: {
            to: input.email,
            subject: `You're invited to ${ctx.team.name} on Pipet`,
            text: `${by} invited you to join the team "${ctx.team.name}" on Pipet as ${input.role}.\n\nAccept the invite: ${url}\n\nThe link works once and expires in 7 days.`,
            html: `<p>${escapeHtml(by)} invited you to join the team <strong>${escapeHtml(ctx.team.name)}</strong> on Pipet as ${input.role}.</p><p><a href="${escapeHtml(url)}">Accept the invite</a></p><p>The link works once and expires in 7 days.</p>`,
          },
        });
        emailStatus = sent.status;
      } catch {
        // The invite stands; the inviter can pass on the link, and the outbox row records the failure.
        emailStatus = 'failed';
      }
      return { ...invite, url, emailStatus };
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
      const { count } = await ctx.db.invite.updateMany({ where: { id: input.id, teamId: ctx.team.id, acceptedAt: null, revokedAt: null }, data: { revokedAt: new Date() } });
      if (count === 0) throw new AppError('not_found', 'No pending invite with this id.');
      return { revoked: input.id };
    }),

  /** The team and role a link invites to; anyone holding the link may see it. */
  preview: publicProcedure.input(Token).query(async ({ ctx, input }) => {
    const invite = await findPendingInvite(input.token, ctx.db);
    if (!invite) throw new AppError('not_found', INVITE_GONE);
    return { team: invite.team, email: invite.email, role: invite.role, expiresAt: invite.expiresAt, invitedBy: invite.invitedBy?.email ?? null };
  }),

  accept: userProcedure.input(Token).mutation(({ ctx, input }) => acceptInvite({ token: input.token, userId: ctx.caller.userId, db: ctx.db })),
});

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
