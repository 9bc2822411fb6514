// Password reset by an emailed link, after Lucia's "password reset" guide: a random token whose
// SHA-256 is the PasswordReset id, good once and for an hour. Asking never says whether an account
// uses the address (the same answer, and the email goes out after the answer). Completing it sets
// the password, counts the address as proven, ends every session of the account and starts one.
import { z } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { hashToken, randomToken } from '../crypto.ts';
import { consume, limiter } from '../rate-limit.ts';
import { appLink, escapeHtml, sendAccountEmail } from './account-email.ts';
import { Email, Password } from './create-user.ts';
import { hashPassword } from './passwords.ts';
import { invalidateUserSessions } from './sessions.ts';

export const RESET_LIFETIME_MS = 60 * 60 * 1000;
/** Reset emails per hour to one address (and so one account). */
const RESETS_PER_HOUR = 3;
export const RESET_REQUESTED = 'If an account uses this address, we sent it a link to choose a new password. The link works once, for an hour.';
export const RESET_GONE = 'This reset link is not valid: it may have expired or been used already. Ask for a new one.';
const TOO_MANY = 'Too many reset requests; wait a while and try again.';

export type RequestResetOptions = { email: string; clientAddress: string; requestOrigin?: string; db?: Db };

/**
 * Emails a reset link when an account uses `email`, and answers the same either way. The limits
 * are spent before the account is looked up, so they too say nothing about it.
 */
export async function requestPasswordReset({ email, clientAddress, requestOrigin, db = defaultDb() }: RequestResetOptions): Promise<{ message: string }> {
  const parsed = Email.safeParse(email);
  if (!parsed.success) throw new AppError('bad_request', parsed.error.issues[0].message, { details: { email: [parsed.error.issues[0].message] } });
  const address = parsed.data;
  await consume(limiter('reset-client', env().AUTH_RATE_LIMIT_PER_ADDRESS, 15 * 60), clientAddress, TOO_MANY);
  await consume(limiter('reset-account', RESETS_PER_HOUR, 60 * 60), address, TOO_MANY);
  const user = await db.user.findUnique({ where: { email: address }, select: { id: true } });
  if (user) {
    const token = randomToken(20);
    await db.$transaction([
      // Only the newest link works.
      db.passwordReset.deleteMany({ where: { userId: user.id } }),
      db.passwordReset.create({ data: { id: hashToken(token), userId: user.id, expiresAt: new Date(Date.now() + RESET_LIFETIME_MS) } }),
    ]);
    // Not awaited: the answer must not wait on SMTP only when the account exists.
    void sendAccountEmail(resetEmail(address, appLink(`/reset/${token}`, requestOrigin))).catch((e: unknown) => console.error(`[pipet] The password reset email to ${address} failed:`, (e as Error).message));
  }
  return { message: RESET_REQUESTED };
}

function resetEmail(to: string, link: string) {
  return {
    to,
    subject: 'Reset your Pipet password',
    text: `Someone (we hope you) asked to reset the password of the Pipet account ${to}.\n\nChoose a new password: ${link}\n\nThe link works once, for an hour. Using it signs the account out everywhere else.\n\nIf you did not ask for this, ignore this email: your password stays as it is.`,
    html: `<p>Someone (we hope you) asked to reset the password of the Pipet account ${escapeHtml(to)}.</p><p><a href="${escapeHtml(link)}">Choose a new password</a></p><p>The link works once, for an hour. Using it signs the account out everywhere else.</p><p>If you did not ask for this, ignore this email: your password stays as it is.</p>`,
  };
}

const Token = z.string().regex(/^[a-z0-9]{16,64}$/);

/** The account a reset link is for, while the link still works; null otherwise. */
export async function findPasswordReset(token: string, db: Db = defaultDb()) {
  if (!Token.safeParse(token).success) return null;
  return db.passwordReset.findFirst({ where: { id: hashToken(token), usedAt: null, expiresAt: { gt: new Date() } }, select: { expiresAt: true, user: { select: { id: true, email: true } } } });
}

export type CompleteResetOptions = { token: string; password: string; db?: Db };

/**
 * Sets the new password and ends every session of the account; the caller starts a new one, which
 * with two-factor on still waits for the second factor (a reset proves the mailbox, not the device).
 */
export async function completePasswordReset({ token, password, db = defaultDb() }: CompleteResetOptions): Promise<{ id: string; email: string; twoFactor: boolean; sessionsEnded: number }> {
  const parsed = Password.safeParse(password);
  if (!parsed.success) throw new AppError('bad_request', parsed.error.issues[0].message, { details: { password: [parsed.error.issues[0].message] } });
  if (!Token.safeParse(token).success) throw new AppError('not_found', RESET_GONE);
  const passwordHash = await hashPassword(parsed.data);
  return db.$transaction(async (tx) => {
    const id = hashToken(token);
    // One conditional update claims the link, so it works once even if submitted twice at once.
    const { count } = await tx.passwordReset.updateMany({ where: { id, usedAt: null, expiresAt: { gt: new Date() } }, data: { usedAt: new Date() } });
    if (count === 0) throw new AppError('not_found', RESET_GONE);
    const { userId } = await tx.passwordReset.findUniqueOrThrow({ where: { id }, select: { userId: true } });
    const before = await tx.user.findUniqueOrThrow({ where: { id: userId }, select: { email: true, emailVerifiedAt: true } });
    // The link reached the account's address: that proves it, as a verification code would.
    const { totpKey, ...user } = await tx.user.update({ where: { id: userId }, data: { passwordHash, emailVerifiedAt: before.emailVerifiedAt ?? new Date() }, select: { id: true, email: true, totpKey: true } });
    await tx.passwordReset.deleteMany({ where: { userId, id: { not: id } } });
    await tx.emailVerification.deleteMany({ where: { userId, email: user.email } });
    const sessionsEnded = await invalidateUserSessions(userId, tx);
    return { ...user, twoFactor: totpKey !== null, sessionsEnded };
  });
}
