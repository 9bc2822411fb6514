// Accepting an invite: the link's token finds the invite, but only the account whose verified email
// is the invited address may accept it; anyone else holding the link is told whom it is for, and
// nothing happens. It works once and only before it expires or is revoked. Someone already in the
// team keeps their role (never demoted by a link).
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { hashToken } from '../crypto.ts';

export const INVITE_GONE = 'This invite link is not valid: it may have expired, been used or been revoked.';

/** "b…@…": enough for the right person to recognise the address, nothing for anyone else. */
export function maskEmail(email: string): string {
  return `${email.slice(0, 1)}…@…`;
}

export const inviteIsForOther = (email: string) => `This invite is for ${maskEmail(email)} — sign in as that address to accept it.`;
export const INVITE_NEEDS_VERIFIED = 'Verify your email address before accepting an invite: enter the code we emailed you.';

export type AcceptInviteOptions = { token: string; userId: string; db?: Db };

export async function acceptInvite({ token, userId, db = defaultDb() }: AcceptInviteOptions) {
  return db.$transaction(async (tx) => {
    const tokenHash = hashToken(token);
    const live = { tokenHash, acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } };
    const found = await tx.invite.findFirst({ where: live, select: { email: true } });
    if (!found) throw new AppError('not_found', INVITE_GONE);
    const user = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true, emailVerifiedAt: true } });
    if (user.email !== found.email) throw new AppError('forbidden', inviteIsForOther(found.email));
    if (!user.emailVerifiedAt) throw new AppError('forbidden', INVITE_NEEDS_VERIFIED);
    // One conditional update claims the invite, so two clicks cannot both accept it.
    const { count } = await tx.invite.updateMany({ where: { ...live, email: user.email }, data: { acceptedAt: new Date() } });
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

/**
 * What the invite page shows before accepting; null when the link is no longer valid. The invited
 * address is shown in full only to its own account (`viewerEmail`), masked to anyone else.
 */
export async function findPendingInvite(token: string, viewerEmail: string | null, db: Db = defaultDb()) {
  if (!/^[a-z0-9]{16,64}$/.test(token)) return null;
  const invite = await db.invite.findFirst({
    where: { tokenHash: hashToken(token), acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
    select: { email: true, role: true, expiresAt: true, team: { select: { slug: true, name: true } }, invitedBy: { select: { email: true, name: true } } },
  });
  if (!invite) return null;
  const forViewer = viewerEmail === invite.email;
  return { ...invite, email: forViewer ? invite.email : maskEmail(invite.email), forViewer };
}
