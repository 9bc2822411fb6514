// Proving an email address, after Lucia's "email verification codes" guide: an 8-character code
// sent to the address, only its SHA-256 stored, good for 15 minutes and 5 wrong tries, one pending
// code per account (a new one replaces it). The same code confirms a change of address: like
// GitHub, the account keeps its old address until the new one is proven.
import { timingSafeEqual } from 'node:crypto';
import { encodeBase32UpperCaseNoPadding } from '@oslojs/encoding';
import { z } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { hashToken } from '../crypto.ts';
import { consume, limiter } from '../rate-limit.ts';
import { appLink, escapeHtml, sendAccountEmail } from './account-email.ts';

export const CODE_LIFETIME_MS = 15 * 60 * 1000;
export const CODE_ATTEMPTS = 5;
const HOUR = 60 * 60;
/** Codes sent per hour to one account, and to one address (whichever account asks). */
const SENDS_PER_HOUR = 5;

/** What a person types: 8 letters and digits; spaces, dashes and case are forgiven. */
export const VerificationCode = z
  .string()
  .max(64)
  .transform((s) => s.replace(/[\s-]/g, '').toUpperCase())
  .pipe(z.string().regex(/^[A-Z2-7]{8}$/, 'The code is the 8 letters and digits from the email.'));

/** 40 random bits as 8 base32 characters (A–Z, 2–7): easy to read aloud and to type. */
function newCode(): string {
  return encodeBase32UpperCaseNoPadding(crypto.getRandomValues(new Uint8Array(5)));
}

export type SendVerificationOptions = {
  user: { id: string };
  /** The address to prove: the account's own, or the one it is changing to. */
  email: string;
  requestOrigin?: string;
  db?: Db;
};

/**
 * Replaces the account's pending code with a new one for `email` and emails it. Rate-limited per
 * account and per address; rejects when SMTP fails (the new code stands, so a retry can be a resend).
 */
export async function sendVerificationCode({ user, email, requestOrigin, db = defaultDb() }: SendVerificationOptions): Promise<{ email: string; expiresAt: Date }> {
  const tooMany = 'Too many verification emails; wait a while before asking for another.';
  await consume(limiter('verify-send-account', SENDS_PER_HOUR, HOUR), user.id, tooMany);
  await consume(limiter('verify-send-address', SENDS_PER_HOUR, HOUR), email, tooMany);
  const code = newCode();
  const expiresAt = new Date(Date.now() + CODE_LIFETIME_MS);
  await db.$transaction([
    db.emailVerification.deleteMany({ where: { userId: user.id } }),
    db.emailVerification.create({ data: { userId: user.id, email, codeHash: hashToken(code), expiresAt } }),
  ]);
  const link = appLink(`/verify?code=${code}`, requestOrigin);
  await sendAccountEmail({
    to: email,
    subject: `Your Pipet verification code: ${code}`,
    text: `Your code to verify ${email} on Pipet is\n\n    ${code}\n\nEnter it on the verification page, or open ${link} while signed in. It works for 15 minutes.\n\nIf you did not ask for this, ignore this email: nothing changes.`,
    html: `<p>Your code to verify ${escapeHtml(email)} on Pipet is</p><p style="font-size:24px;font-family:monospace;letter-spacing:4px"><strong>${code}</strong></p><p>Enter it on the verification page, or <a href="${escapeHtml(link)}">open this link</a> while signed in. It works for 15 minutes.</p><p>If you did not ask for this, ignore this email: nothing changes.</p>`,
  });
  return { email, expiresAt };
}

export type VerifyEmailOptions = { userId: string; code: string; db?: Db };

/**
 * Checks the account's pending code. Right: the address it was sent to becomes the account's,
 * verified, and the code is gone. Wrong: one of its tries is spent and nothing else changes.
 */
export async function verifyEmailCode({ userId, code, db = defaultDb() }: VerifyEmailOptions): Promise<{ email: string }> {
  const typed = VerificationCode.safeParse(code);
  if (!typed.success) throw new AppError('bad_request', typed.error.issues[0].message);
  const pending = await db.emailVerification.findFirst({ where: { userId }, orderBy: { createdAt: 'desc' } });
  if (!pending) throw new AppError('not_found', 'There is no code waiting to be entered; send a new one.');
  if (pending.expiresAt.getTime() <= Date.now()) throw new AppError('bad_request', 'This code has expired; send a new one.');
  if (pending.attempts >= CODE_ATTEMPTS) throw new AppError('bad_request', 'Too many wrong codes; send a new one.');
  if (!sameHash(hashToken(typed.data), pending.codeHash)) {
    // Counted only while under the cap, so racing guesses cannot spend more than CODE_ATTEMPTS.
    const { count } = await db.emailVerification.updateMany({ where: { id: pending.id, attempts: { lt: CODE_ATTEMPTS } }, data: { attempts: { increment: 1 } } });
    const left = CODE_ATTEMPTS - pending.attempts - 1;
    throw new AppError('bad_request', count === 0 || left <= 0 ? 'Too many wrong codes; send a new one.' : `That code is not right; ${left} ${left === 1 ? 'try' : 'tries'} left.`);
  }
  return db.$transaction(async (tx) => {
    // Claiming the row makes a right code work once, even entered twice at the same moment.
    const { count } = await tx.emailVerification.deleteMany({ where: { id: pending.id } });
    if (count === 0) throw new AppError('not_found', 'There is no code waiting to be entered; send a new one.');
    const taken = await tx.user.findFirst({ where: { email: pending.email, id: { not: userId } }, select: { id: true } });
    if (taken) throw new AppError('conflict', `${pending.email} is now used by another account.`);
    await tx.emailVerification.deleteMany({ where: { userId } });
    await tx.user.update({ where: { id: userId }, data: { email: pending.email, emailVerifiedAt: new Date() } });
    return { email: pending.email };
  });
}

function sameHash(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** The account's address, whether it is verified, and the address a pending code was sent to. */
export async function emailStatus(userId: string, db: Db = defaultDb()) {
  const user = await db.user.findUniqueOrThrow({
    where: { id: userId },
    select: { email: true, emailVerifiedAt: true, passwordHash: true, emailVerifications: { orderBy: { createdAt: 'desc' }, take: 1, select: { email: true, expiresAt: true, attempts: true } } },
  });
  const pending = user.emailVerifications[0];
  const live = pending && pending.expiresAt.getTime() > Date.now() && pending.attempts < CODE_ATTEMPTS;
  return {
    email: user.email,
    verified: user.emailVerifiedAt !== null,
    verifiedAt: user.emailVerifiedAt,
    hasPassword: user.passwordHash !== null,
    pending: live ? { email: pending.email, expiresAt: pending.expiresAt, change: pending.email !== user.email } : null,
  };
}
