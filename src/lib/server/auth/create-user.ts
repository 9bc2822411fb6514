// A new account: the user, argon2id password hash, and a personal team they own. Its email is
// unverified until a code proves it (auth/email-verification.ts), unless an operator vouches for it.
import { z } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { createTeam, freeTeamSlug } from '../teams/create-team.ts';
import { hashPassword } from './passwords.ts';

export const Email = z.string().trim().toLowerCase().email('Enter a valid email address.').max(254);
export const Password = z.string().min(8, 'Passwords are at least 8 characters.').max(256, 'Passwords are at most 256 characters.');

export type CreateUserOptions = {
  email: string;
  password: string;
  name?: string;
  teamSlug?: string;
  /** The address counts as proven from the start (`pipet admin create-user`: the operator vouches). */
  verified?: boolean;
  db?: Db;
};

export async function createUser({ email, password, name, teamSlug, verified = false, db = defaultDb() }: CreateUserOptions) {
  const cleanEmail = Email.parse(email);
  Password.parse(password);
  const passwordHash = await hashPassword(password);
  return db.$transaction(async (tx) => {
    if (await tx.user.findUnique({ where: { email: cleanEmail }, select: { id: true } })) {
      throw new AppError('conflict', 'An account with this email already exists.');
    }
    const user = await tx.user.create({ data: { email: cleanEmail, passwordHash, name, emailVerifiedAt: verified ? new Date() : null } });
    const slug = teamSlug ?? (await freeTeamSlug(cleanEmail.split('@')[0], tx));
    const team = await createTeam({ slug, name: teamSlug ?? `${cleanEmail.split('@')[0]}'s team`, ownerId: user.id, personal: !teamSlug, db: tx });
    return { user: { id: user.id, email: user.email }, team: { id: team.id, slug: team.slug } };
  });
}
