// Linking GitHub to the signed-in account (from the account page): only a GitHub account that has
// verified this account's own address, and that no other Pipet account uses. From then on, signing
// in with GitHub signs in here. GitHub having verified the address also proves it for Pipet.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { githubConfigured, type GithubIdentity } from './github.ts';

export type GithubLink =
  | { kind: 'linked'; login: string }
  /** GitHub has not verified the account's address: it may be someone else's GitHub account. */
  | { kind: 'email-mismatch'; login: string; email: string }
  /** Another Pipet account signs in with this GitHub account. */
  | { kind: 'taken'; login: string };

export type LinkGithubOptions = { userId: string; identity: GithubIdentity; db?: DbTx };

export async function linkGithub({ userId, identity, db = defaultDb() }: LinkGithubOptions): Promise<GithubLink> {
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true, emailVerifiedAt: true } });
  if (!identity.verifiedEmails.includes(user.email)) return { kind: 'email-mismatch', login: identity.login, email: user.email };
  const other = await db.user.findUnique({ where: { githubId: identity.id }, select: { id: true } });
  if (other && other.id !== userId) return { kind: 'taken', login: identity.login };
  try {
    await db.user.update({ where: { id: userId }, data: { githubId: identity.id, emailVerifiedAt: user.emailVerifiedAt ?? new Date() } });
  } catch (error) {
    // Linked to another account meanwhile (githubId is unique).
    if ((error as { code?: string }).code === 'P2002') return { kind: 'taken', login: identity.login };
    throw error;
  }
  return { kind: 'linked', login: identity.login };
}

/** What the account page's GitHub section shows: whether the server offers GitHub, and whether this account is linked. */
export async function githubLinkStatus(userId: string, db: DbTx = defaultDb()): Promise<{ configured: boolean; linked: boolean }> {
  if (!githubConfigured()) return { configured: false, linked: false };
  const user = await db.user.findUnique({ where: { id: userId }, select: { githubId: true } });
  return { configured: true, linked: !!user?.githubId };
}
