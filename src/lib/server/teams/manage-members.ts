// Changing who is in a team and with which role. A team always keeps at least one owner; each
// change runs serializable, so two owners demoting each other at once cannot leave it ownerless.
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { atLeast, type Role } from '../../schemas/vocabulary.ts';

type MemberChange = { teamId: string; userId: string; callerRole: Role; db?: Db };

async function memberRole(db: DbTx, teamId: string, userId: string): Promise<Role> {
  const m = await db.membership.findUnique({ where: { teamId_userId: { teamId, userId } }, select: { role: true } });
  if (!m) throw new AppError('not_found', 'No such member in this team.');
  return m.role;
}

async function assertNotLastOwner(db: DbTx, teamId: string, what: string): Promise<void> {
  const owners = await db.membership.count({ where: { teamId, role: 'owner' } });
  if (owners <= 1) throw new AppError('bad_request', `The last owner cannot ${what}; make someone else an owner first.`);
}

export async function changeMemberRole({ teamId, userId, role, callerRole, db = defaultDb() }: MemberChange & { role: Role }) {
  return db.$transaction(
    async (tx) => {
      const current = await memberRole(tx, teamId, userId);
      if ((current === 'owner' || role === 'owner') && !atLeast(callerRole, 'owner')) throw new AppError('forbidden', 'Only an owner can make or unmake owners.');
      if (current === 'owner' && role !== 'owner') await assertNotLastOwner(tx, teamId, 'be demoted');
      await tx.membership.update({ where: { teamId_userId: { teamId, userId } }, data: { role } });
      return { userId, role };
    },
    { isolationLevel: 'Serializable' },
  );
}

export async function removeMember({ teamId, userId, callerRole, db = defaultDb() }: MemberChange) {
  return db.$transaction(
    async (tx) => {
      const current = await memberRole(tx, teamId, userId);
      if (current === 'owner' && !atLeast(callerRole, 'owner')) throw new AppError('forbidden', 'Only an owner can remove an owner.');
      if (current === 'owner') await assertNotLastOwner(tx, teamId, 'be removed');
      await tx.membership.delete({ where: { teamId_userId: { teamId, userId } } });
      return { removed: userId };
    },
    { isolationLevel: 'Serializable' },
  );
}

export async function leaveTeam({ teamId, userId, callerRole, db = defaultDb() }: MemberChange) {
  return db.$transaction(
    async (tx) => {
      if (callerRole === 'owner') await assertNotLastOwner(tx, teamId, 'leave');
      await tx.membership.delete({ where: { teamId_userId: { teamId, userId } } });
    },
    { isolationLevel: 'Serializable' },
  );
}

/** Makes another member an owner; the previous owner stays on as an admin. */
export async function transferOwnership({ team, fromUserId, toUserId, db = defaultDb() }: { team: { id: string; personal: boolean }; fromUserId: string; toUserId: string; db?: Db }) {
  if (team.personal) throw new AppError('bad_request', 'A personal team cannot change hands; create a team to share it.');
  if (toUserId === fromUserId) throw new AppError('bad_request', 'You already own this team.');
  return db.$transaction(async (tx) => {
    const { count } = await tx.membership.updateMany({ where: { teamId: team.id, userId: toUserId }, data: { role: 'owner' } });
    if (count === 0) throw new AppError('not_found', 'No such member in this team.');
    await tx.membership.update({ where: { teamId_userId: { teamId: team.id, userId: fromUserId } }, data: { role: 'admin' } });
    return { owner: toUserId };
  });
}
