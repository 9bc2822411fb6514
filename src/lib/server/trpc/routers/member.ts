// Members of a team and their roles. Owners manage everyone; admins manage members and admins;
// a team always keeps at least one owner.
import { z } from 'zod';
import type { DbTx } from '../../db/client.ts';
import { Role, type Role as RoleName } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { router, teamProcedure, teamRoleProcedure } from '../init.ts';

const MemberInput = z.object({ userId: z.string().uuid() });

async function memberRole(db: DbTx, teamId: string, userId: string): Promise<RoleName> {
  const m = await db.membership.findUnique({ where: { teamId_userId: { teamId, userId } }, select: { role: true } });
  if (!m) throw new AppError('not_found', 'No such member in this team.');
  return m.role;
}

async function assertNotLastOwner(db: DbTx, teamId: string, what: string): Promise<void> {
  const owners = await db.membership.count({ where: { teamId, role: 'owner' } });
  if (owners <= 1) throw new AppError('bad_request', `The last owner cannot ${what}; make someone else an owner first.`);
}

export const memberRouter = router({
  list: teamProcedure.query(async ({ ctx }) => {
    const rows = await ctx.db.membership.findMany({
      where: { teamId: ctx.team.id },
      select: { role: true, createdAt: true, user: { select: { id: true, email: true, name: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((m) => ({ userId: m.user.id, email: m.user.email, name: m.user.name, role: m.role, joinedAt: m.createdAt }));
  }),

  updateRole: teamRoleProcedure('admin')
    .input(MemberInput.extend({ role: Role }))
    .mutation(async ({ ctx, input }) =>
      // Serializable so two owners demoting each other at once cannot leave the team ownerless.
      ctx.db.$transaction(
        async (tx) => {
          const current = await memberRole(tx, ctx.team.id, input.userId);
          if ((current === 'owner' || input.role === 'owner') && ctx.role !== 'owner') {
            throw new AppError('forbidden', 'Only an owner can make or unmake owners.');
          }
          if (current === 'owner' && input.role !== 'owner') await assertNotLastOwner(tx, ctx.team.id, 'be demoted');
          await tx.membership.update({ where: { teamId_userId: { teamId: ctx.team.id, userId: input.userId } }, data: { role: input.role } });
          return { userId: input.userId, role: input.role };
        },
        { isolationLevel: 'Serializable' },
      ),
    ),

  remove: teamRoleProcedure('admin')
    .input(MemberInput)
    .mutation(async ({ ctx, input }) =>
      ctx.db.$transaction(
        async (tx) => {
          const current = await memberRole(tx, ctx.team.id, input.userId);
          if (current === 'owner' && ctx.role !== 'owner') throw new AppError('forbidden', 'Only an owner can remove an owner.');
          if (current === 'owner') await assertNotLastOwner(tx, ctx.team.id, 'be removed');
          await tx.membership.delete({ where: { teamId_userId: { teamId: ctx.team.id, userId: input.userId } } });
          return { removed: input.userId };
        },
        { isolationLevel: 'Serializable' },
      ),
    ),

  leave: teamProcedure.mutation(async ({ ctx }) => {
    if (ctx.caller.kind !== 'user') throw new AppError('forbidden', 'An API key is not a member and cannot leave a team.');
    const userId = ctx.caller.userId;
    return ctx.db.$transaction(
      async (tx) => {
        if (ctx.role === 'owner') await assertNotLastOwner(tx, ctx.team.id, 'leave');
        await tx.membership.delete({ where: { teamId_userId: { teamId: ctx.team.id, userId } } });
        return { left: ctx.team.slug };
      },
      { isolationLevel: 'Serializable' },
    );
  }),
});
