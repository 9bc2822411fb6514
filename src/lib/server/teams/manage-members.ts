// Changing who is in a team and with which role. A team always keeps at least one owner; each
// change runs serializable, so two owners demoting each other at once cannot leave it ownerless.
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { invalidate } from '../auth/auth-cache.ts';
import { checkTeamsPerAccount } from './create-team.ts';
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

/**
 * When the team's account (the person it counts against) stops being an owner, the account passes
 * to the longest-standing remaining owner. Call inside the transaction that made the change.
 */
async function handOverAccount(db: DbTx, teamId: string, userId: string): Promise<void> {
  const team = await db.team.findUnique({ where: { id: teamId }, select: { accountId: true } });
  if (team?.accountId !== userId) return;
  const next = await db.membership.findFirst({ where: { teamId, role: 'owner', userId: { not: userId } }, orderBy: [{ createdAt: 'asc' }, { userId: 'asc' }], select: { userId: true } });
  await db.team.update({ where: { id: teamId }, data: { accountId: next?.userId ?? null } });
}

type RevokedKey = { id: string; name: string; prefix: string };

/**
 * Revokes the live keys `userId` created in the team (keys made by their keys included: those carry
 * the same creator), or only those with the `manage` scope. Inside the change's transaction; the
 * caches are dropped by `dropKeys` once it has committed.
 */
async function revokeKeysOf(db: DbTx, teamId: string, userId: string, only?: 'manage'): Promise<RevokedKey[]> {
  const where = { teamId, createdById: userId, revokedAt: null, ...(only ? { scopes: { has: only } } : {}) };
  const keys = await db.apiKey.findMany({ where, select: { id: true, name: true, prefix: true } });
  if (keys.length) await db.apiKey.updateMany({ where: { id: { in: keys.map((k) => k.id) } }, data: { revokedAt: new Date() } });
  return keys;
}

/** Every web process forgets the revoked keys before the change is answered (as apiKey.revoke does). */
async function dropKeys<T extends { revokedKeys: RevokedKey[] }>(result: T): Promise<T> {
  for (const k of result.revokedKeys) await invalidate({ kind: 'key', id: k.id });
  return result;
}

/** A member who drops below admin loses the `manage` keys they made: they could not make one now. */
export async function changeMemberRole({ teamId, userId, role, callerRole, db = defaultDb() }: MemberChange & { role: Role }) {
  const result = await db.$transaction(
    async (tx) => {
      const current = await memberRole(tx, teamId, userId);
      if ((current === 'owner' || role === 'owner') && !atLeast(callerRole, 'owner')) throw new AppError('forbidden', 'Only an owner can make or unmake owners.');
      if (current === 'owner' && role !== 'owner') await assertNotLastOwner(tx, teamId, 'be demoted');
      await tx.membership.update({ where: { teamId_userId: { teamId, userId } }, data: { role } });
      if (role !== 'owner') await handOverAccount(tx, teamId, userId);
      const revokedKeys = atLeast(role, 'admin') ? [] : await revokeKeysOf(tx, teamId, userId, 'manage');
      return { userId, role, revokedKeys };
    },
    { isolationLevel: 'Serializable' },
  );
  return dropKeys(result);
}

/** Removing a member revokes every key they created in the team (hand a key over first to keep it: apiKey.handOver). */
export async function removeMember({ teamId, userId, callerRole, db = defaultDb() }: MemberChange) {
  const result = await db.$transaction(
    async (tx) => {
      const current = await memberRole(tx, teamId, userId);
      if (current === 'owner' && !atLeast(callerRole, 'owner')) throw new AppError('forbidden', 'Only an owner can remove an owner.');
      if (current === 'owner') await assertNotLastOwner(tx, teamId, 'be removed');
      await tx.membership.delete({ where: { teamId_userId: { teamId, userId } } });
      await handOverAccount(tx, teamId, userId);
      return { removed: userId, revokedKeys: await revokeKeysOf(tx, teamId, userId) };
    },
    { isolationLevel: 'Serializable' },
  );
  return dropKeys(result);
}

/** Leaving revokes the keys one created in the team, as a removal does. */
export async function leaveTeam({ teamId, userId, callerRole, db = defaultDb() }: MemberChange) {
  const result = await db.$transaction(
    async (tx) => {
      if (callerRole === 'owner') await assertNotLastOwner(tx, teamId, 'leave');
      await tx.membership.delete({ where: { teamId_userId: { teamId, userId } } });
      await handOverAccount(tx, teamId, userId);
      return { revokedKeys: await revokeKeysOf(tx, teamId, userId) };
    },
    { isolationLevel: 'Serializable' },
  );
  return dropKeys(result);
}

/** Makes another member an owner; the previous owner stays on as an admin. */
export async function transferOwnership({ team, fromUserId, toUserId, db = defaultDb() }: { team: { id: string; personal: boolean }; fromUserId: string; toUserId: string; db?: Db }) {
  if (team.personal) throw new AppError('bad_request', 'A personal team cannot change hands; create a team to share it.');
  if (toUserId === fromUserId) throw new AppError('bad_request', 'You already own this team.');
  const result = await db.$transaction(async (tx) => {
    const member = await tx.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId: toUserId } }, select: { userId: true } });
    if (!member) throw new AppError('not_found', 'No such member in this team.');
    // The new owner becomes the team's account: their own limit on teams owned applies.
    await checkTeamsPerAccount(toUserId, tx);
    await tx.membership.update({ where: { teamId_userId: { teamId: team.id, userId: toUserId } }, data: { role: 'owner' } });
    await tx.membership.update({ where: { teamId_userId: { teamId: team.id, userId: fromUserId } }, data: { role: 'admin' } });
    await tx.team.update({ where: { id: team.id }, data: { accountId: toUserId } });
    return { owner: toUserId };
  });
  // Cached grants carry the team's account (rate limits count per account).
  await invalidate({ kind: 'team', id: team.id });
  return result;
}
