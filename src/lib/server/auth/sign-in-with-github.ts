// Who a GitHub account signs in as: the Pipet account linked to it; else, when none of its verified
// addresses has an account, a new account (with its personal team) whose address GitHub vouches
// for. An existing account with one of those addresses is never linked here, silently: its owner
// links GitHub from their account page, signed in (link-github.ts), as GitHub and Linear do.
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { consume } from '../rate-limit.ts';
import { createTeam, freeTeamSlug } from '../teams/create-team.ts';
import type { GithubIdentity } from './github.ts';
import { authAddressLimiter } from './log-in.ts';

export type GithubSignIn =
  /** Sign this account in (with the second step when `twoFactor`); `created`: it was just made. */
  | { kind: 'signed-in'; user: { id: string; twoFactor: boolean }; created: boolean }
  /** A verified Pipet account has one of GitHub's verified addresses: log in with the password, then link. */
  | { kind: 'exists'; email: string }
  /** A Pipet account has the address but never proved it: it could be a squatter's, so nothing is linked. */
  | { kind: 'unverified'; email: string }
  /** GitHub has no verified address for this account: nothing to create an account with. */
  | { kind: 'no-email' };

export type SignInWithGithubOptions = { identity: GithubIdentity; clientAddress: string; db?: Db };

export async function signInWithGithub({ identity, clientAddress, db = defaultDb() }: SignInWithGithubOptions): Promise<GithubSignIn> {
  const found = await resolve(identity, db);
  if (found) return found;
  await consume(authAddressLimiter('signup'), clientAddress, 'Too many sign-ups from this address; try again later.');
  try {
    const user = await createGithubAccount(identity, db);
    return { kind: 'signed-in', user: { id: user.id, twoFactor: false }, created: true };
  } catch (error) {
    // The same GitHub account signing in twice at once, or the address signing up meanwhile: the
    // unique columns refuse the second; answer as if it had come a moment later.
    if ((error as { code?: string }).code === 'P2002') {
      const again = await resolve(identity, db);
      if (again) return again;
    }
    throw error;
  }
}

/** The answer when an account exists for this GitHub account or its addresses; null when a new one is to be made. */
async function resolve(identity: GithubIdentity, db: Db): Promise<GithubSignIn | null> {
  const linked = await db.user.findUnique({ where: { githubId: identity.id }, select: { id: true, totpKey: true } });
  if (linked) return { kind: 'signed-in', user: { id: linked.id, twoFactor: linked.totpKey !== null }, created: false };
  if (identity.verifiedEmails.length === 0) return { kind: 'no-email' };
  const owners = await db.user.findMany({ where: { email: { in: identity.verifiedEmails } }, select: { email: true, emailVerifiedAt: true } });
  const verified = owners.find((u) => u.emailVerifiedAt !== null);
  if (verified) return { kind: 'exists', email: verified.email };
  if (owners.length > 0) return { kind: 'unverified', email: owners[0].email };
  return null;
}

/** The user (no password; GitHub verified its primary address) and its personal team, under the account's team limit. */
async function createGithubAccount(identity: GithubIdentity, db: Db): Promise<{ id: string }> {
  const email = identity.verifiedEmails[0];
  if (!email) throw new AppError('bad_request', 'GitHub has no verified email address for this account.');
  return db.$transaction(async (tx) => {
    const user = await tx.user.create({
      data: { email, githubId: identity.id, name: (identity.name ?? identity.login).slice(0, 100), emailVerifiedAt: new Date(), passwordHash: null },
      select: { id: true },
    });
    const slug = await freeTeamSlug(identity.login, tx);
    await createTeam({ slug, name: `${identity.login}'s team`, ownerId: user.id, personal: true, db: tx });
    return user;
  });
}
