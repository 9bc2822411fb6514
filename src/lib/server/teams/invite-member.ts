// Inviting someone to a team by email: a one-time link (only its token's digest is stored) that
// works for 7 days, for the account with that verified address only (accept-invite.ts); a new
// invite to the same address replaces the pending one. The link is returned here, to the inviter,
// once; the outbox's listing hides it (trpc/routers/effect.ts).
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { hashToken, randomToken } from '../crypto.ts';
import { sendEmail } from '../effects/send-email.ts';
import { atLeast, type Role } from '../../schemas/vocabulary.ts';
import { inviteLink } from './invite-link.ts';

const INVITE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

export const inviteSelect = { id: true, email: true, role: true, expiresAt: true, createdAt: true, invitedBy: { select: { email: true } } } as const;

export type InviteMemberOptions = {
  team: { id: string; name: string };
  /** The inviter's role in the team: only owners invite owners. */
  inviterRole: Role;
  /** The inviting person (null for a manage key), named in the email. */
  inviter: { userId: string; email: string } | null;
  email: string;
  role: Role;
  requestOrigin?: string;
  db?: Db;
};

export async function inviteMember({ team, inviterRole, inviter, email, role, requestOrigin, db = defaultDb() }: InviteMemberOptions) {
  if (role === 'owner' && !atLeast(inviterRole, 'owner')) throw new AppError('forbidden', 'Only an owner can invite an owner.');
  const existing = await db.membership.findFirst({ where: { teamId: team.id, user: { email } }, select: { role: true } });
  if (existing) throw new AppError('conflict', `${email} is already a member of this team.`);
  const token = randomToken(20);
  const invite = await db.$transaction(async (tx) => {
    // A new invite to the same address replaces the pending one: only the newest link works.
    await tx.invite.updateMany({ where: { teamId: team.id, email, acceptedAt: null, revokedAt: null }, data: { revokedAt: new Date() } });
    return tx.invite.create({
      data: { teamId: team.id, email, role, tokenHash: hashToken(token), invitedById: inviter?.userId ?? null, expiresAt: new Date(Date.now() + INVITE_LIFETIME_MS) },
      select: inviteSelect,
    });
  });
  const url = inviteLink(token, requestOrigin);
  let emailStatus: 'sent' | 'stored' | 'failed';
  try {
    const sent = await sendEmail({ teamId: team.id, db, email: inviteEmail({ to: email, teamName: team.name, role, by: inviter?.email ?? 'An admin', url }) });
    emailStatus = sent.status;
  } catch {
    // The invite stands; the inviter can pass on the link, and the outbox row records the failure.
    emailStatus = 'failed';
  }
  return { ...invite, url, emailStatus };
}

function inviteEmail({ to, teamName, role, by, url }: { to: string; teamName: string; role: Role; by: string; url: string }) {
  return {
    to,
    subject: `You're invited to ${teamName} on Pipet`,
    text: `${by} invited you to join the team "${teamName}" on Pipet as ${role}.\n\nAccept the invite: ${url}\n\nAccept it signed in as ${to}, once that address is verified. The link works once and expires in 7 days.`,
    html: `<p>${escapeHtml(by)} invited you to join the team <strong>${escapeHtml(teamName)}</strong> on Pipet as ${role}.</p><p><a href="${escapeHtml(url)}">Accept the invite</a></p><p>Accept it signed in as ${escapeHtml(to)}, once that address is verified. The link works once and expires in 7 days.</p>`,
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
