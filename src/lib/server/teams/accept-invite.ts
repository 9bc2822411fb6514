// Accepting an invite: the link's token is the credential; it works once and only before it
// expires or is revoked. Someone already in the team keeps their role (never demoted by a link).
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { hashToken } from '../crypto.ts';

export const INVITE_GONE = 'This invite link is not valid: it may have expired, been used or been revoked.';

export type AcceptInviteOptions = { token: string; userId: string; db?: Db };

export async function acceptInvite({ token, userId, db = defaultDb() }: AcceptInviteOptions) {
  return db.$transaction(async (tx) => {
    // One conditional update claims the invite, so two clicks cannot both accept it.
    const tokenHash = hashToken(token);
    const { count } = await tx.invite.updateMany({
      where: { tokenHash, acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
      data: { acceptedAt: new Date() },
    });
    if (count === 0) throw new AppError('not_found', INVITE_GONE);
    const invite = await tx.invite.findUniqueOrThrow({ where: { tokenHash }, select: { role: true, team: { select: { id: true, slug: true, name: true } } } });
    const membership = await tx.membership.upsert({
      where: { teamId_userId: { teamId: invite.team.id, userId } },
      create: { teamId: invite.team.id, userId, role: invite.role },
      update: {},
      select: { role: true },
    });
    return { team: { slug: invite.team.slug, name: invite.team.name }, role: membership.role };
  });
}

/** What the invite page shows before accepting; null when the link is no longer valid. */
export async function findPendingInvite(token: string, db: Db = defaultDb()) {
  if (!/^[a-z0-9]{16,64}$/.test(token)) return null;
  return db.invite.findFirst({
    where: { tokenHash: hashToken(token), acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
    select: { email: true, role: true, expiresAt: true, team: { select: { slug: true, name: true } }, invitedBy: { select: { email: true, name: true } } },
  });
}
