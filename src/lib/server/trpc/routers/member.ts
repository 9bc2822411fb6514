// Members of a team and their roles. Owners manage everyone; admins manage members and admins;
// a team always keeps at least one owner (teams/manage-members.ts).
import { z } from 'zod';
import { Role } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { changeMemberRole, leaveTeam, removeMember } from '../../teams/manage-members.ts';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';
import type { Context } from '../context.ts';
import { recordAudit } from '../../audit/record-audit.ts';

const MemberInput = z.object({ userId: z.string().uuid() });

/** Who a change is about, for the audit log (read before the change: a removed member's row is gone after). */
async function memberOf(ctx: Context & { team: { id: string } }, userId: string) {
  const m = await ctx.db.membership.findUnique({ where: { teamId_userId: { teamId: ctx.team.id, userId } }, select: { role: true, user: { select: { email: true } } } });
  return { userId, email: m?.user.email ?? null, role: m?.role ?? null };
}

const keysOf = (keys: { id: string; name: string; prefix: string }[]) => keys.map((k) => ({ key: k.id, name: k.name, prefix: k.prefix }));

// Member changes commit inside teams/manage-members.ts (serializable): their entries follow at once (record-audit.ts).

export const memberRouter = router({
  list: teamProcedure.query(async ({ ctx }) => {
    const rows = await ctx.db.membership.findMany({
      where: { teamId: ctx.team.id },
      select: { role: true, createdAt: true, user: { select: { id: true, email: true, name: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((m) => ({ userId: m.user.id, email: m.user.email, name: m.user.name, role: m.role, joinedAt: m.createdAt }));
  }),

  /** The live keys a member created in this team: what removing them would revoke (shown before confirming). */
  keys: teamRoleProcedure('admin')
    .input(MemberInput)
    .query(({ ctx, input }) =>
      ctx.db.apiKey.findMany({ where: { teamId: ctx.team.id, createdById: input.userId, revokedAt: null }, select: { id: true, name: true, prefix: true, scopes: true }, orderBy: { createdAt: 'asc' } }),
    ),

  updateRole: teamRoleProcedure('admin')
    .input(MemberInput.extend({ role: Role }))
    .mutation(async ({ ctx, input }) => {
      const before = await memberOf(ctx, input.userId);
      const changed = await changeMemberRole({ teamId: ctx.team.id, userId: input.userId, role: input.role, callerRole: ctx.role, db: ctx.db });
      await recordAudit(ctx, [ctx.team], { action: 'member.role_changed', target: { userId: before.userId, email: before.email, from: before.role, to: changed.role, revokedKeys: keysOf(changed.revokedKeys) } });
      return changed;
    }),

  remove: teamRoleProcedure('admin')
    .input(MemberInput)
    .mutation(async ({ ctx, input }) => {
      const before = await memberOf(ctx, input.userId);
      const removed = await removeMember({ teamId: ctx.team.id, userId: input.userId, callerRole: ctx.role, db: ctx.db });
      await recordAudit(ctx, [ctx.team], { action: 'member.removed', target: { userId: before.userId, email: before.email, role: before.role, revokedKeys: keysOf(removed.revokedKeys) } });
      return removed;
    }),

  leave: teamProcedure.mutation(async ({ ctx }) => {
    if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'An API key is not a member and cannot leave a team.');
    const left = await leaveTeam({ teamId: ctx.team.id, userId: ctx.caller.userId, callerRole: ctx.role, db: ctx.db });
    await recordAudit(ctx, [ctx.team], { action: 'member.left', target: { userId: ctx.caller.userId, email: ctx.caller.email, role: ctx.role, revokedKeys: keysOf(left.revokedKeys) } });
    return { left: ctx.team.slug };
  }),
});
