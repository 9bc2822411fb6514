// Members of a team and their roles. Owners manage everyone; admins manage members and admins;
// a team always keeps at least one owner (teams/manage-members.ts).
import { z } from 'zod';
import { Role } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { changeMemberRole, leaveTeam, removeMember } from '../../teams/manage-members.ts';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';

const MemberInput = z.object({ userId: z.string().uuid() });

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
    .mutation(({ ctx, input }) => changeMemberRole({ teamId: ctx.team.id, userId: input.userId, role: input.role, callerRole: ctx.role, db: ctx.db })),

  remove: teamRoleProcedure('admin')
    .input(MemberInput)
    .mutation(({ ctx, input }) => removeMember({ teamId: ctx.team.id, userId: input.userId, callerRole: ctx.role, db: ctx.db })),

  leave: teamProcedure.mutation(async ({ ctx }) => {
    if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'An API key is not a member and cannot leave a team.');
    await leaveTeam({ teamId: ctx.team.id, userId: ctx.caller.userId, callerRole: ctx.role, db: ctx.db });
    return { left: ctx.team.slug };
  }),
});
