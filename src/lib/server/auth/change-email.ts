// Changing the account's address, and sending a code again. Like GitHub: the new address gets a
// code, and the account switches to it only once that code is entered (email-verification.ts);
// until then everything (sign-in, invites, resets) goes by the old, proven address.
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { consume, limiter } from '../rate-limit.ts';
import { Email } from './create-user.ts';
import { verifyPassword } from './passwords.ts';
import { sendVerificationCode } from './email-verification.ts';

export type ChangeEmailOptions = { userId: string; email: string; password?: string; requestOrigin?: string; db?: Db };

/** Sends a code to `email`; the current password is asked for when the account has one. */
export async function requestEmailChange({ userId, email, password, requestOrigin, db = defaultDb() }: ChangeEmailOptions) {
  const parsed = Email.safeParse(email);
  if (!parsed.success) throw new AppError('bad_request', parsed.error.issues[0].message);
  const to = parsed.data;
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { id: true, email: true, emailVerifiedAt: true, passwordHash: true } });
  if (user.passwordHash) {
    // A stolen session alone must not be enough to move the account (and its resets) elsewhere.
    await consume(limiter('email-change-password', 10, 15 * 60), userId, 'Too many attempts; wait a few minutes and try again.');
    if (!password || !(await verifyPassword(user.passwordHash, password))) throw new AppError('forbidden', 'Your current password is not right.');
  }
  if (to === user.email && user.emailVerifiedAt) throw new AppError('bad_request', `${to} is already your verified address.`);
  if (to !== user.email && (await db.user.findUnique({ where: { email: to }, select: { id: true } }))) {
    throw new AppError('conflict', 'An account with this email already exists.');
  }
  return sendVerificationCode({ user, email: to, requestOrigin, db });
}

export type ResendOptions = { userId: string; requestOrigin?: string; db?: Db };

/** A new code to wherever one is awaited: a pending change's address, else an unverified account's own. */
export async function resendVerificationCode({ userId, requestOrigin, db = defaultDb() }: ResendOptions) {
  const user = await db.user.findUniqueOrThrow({
    where: { id: userId },
    select: { id: true, email: true, emailVerifiedAt: true, emailVerifications: { orderBy: { createdAt: 'desc' }, take: 1, select: { email: true } } },
  });
  const to = user.emailVerifications[0]?.email ?? (user.emailVerifiedAt ? null : user.email);
  if (!to) throw new AppError('bad_request', `${user.email} is already verified.`);
  return sendVerificationCode({ user, email: to, requestOrigin, db });
}

/** Drops a pending change of address; the account keeps the one it has. */
export async function cancelEmailChange({ userId, db = defaultDb() }: { userId: string; db?: Db }) {
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true } });
  const { count } = await db.emailVerification.deleteMany({ where: { userId, email: { not: user.email } } });
  if (count === 0) throw new AppError('not_found', 'No change of address is waiting.');
  return { email: user.email };
}
