// Two-factor authentication with an authenticator app (TOTP, RFC 6238: 6 digits, 30 s), after
// Lucia's guide on @oslojs/otp: the key is made here, shown once as an otpauth URI (and QR code),
// and kept only once a code from it proves the app has it, encrypted at rest (secret-box.ts).
// Ten recovery codes come with it, shown once and stored hashed, each good for one sign-in.
// Codes given wrong are limited per account, wherever they come from.
import { createTOTPKeyURI, generateHOTP } from '@oslojs/otp';
import { constantTimeEqual } from '@oslojs/crypto/subtle';
import { decodeBase32IgnorePadding, encodeBase32UpperCaseNoPadding } from '@oslojs/encoding';
import { renderSVG } from 'uqr';
import { db as defaultDb, type Db, type DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { hashToken, randomToken } from '../crypto.ts';
import { consume, limiter } from '../rate-limit.ts';
import { open, seal } from './secret-box.ts';
import { markSessionTwoFactorVerified } from './sessions.ts';

export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
const TOTP_KEY_BYTES = 20;
/** A code from the period before or after is taken too: phones' clocks drift, and typing takes time. */
const GRACE_SECONDS = 30;
export const RECOVERY_CODE_COUNT = 10;
const ISSUER = 'Pipet';
const WINDOW_SECONDS = 15 * 60;

export const WRONG_CODE = 'That code is not right: use the current 6-digit code from your authenticator app, or an unused recovery code.';
const TOO_MANY = 'Too many wrong codes for this account; wait a few minutes and try again.';

/** Wrong codes per account per 15 minutes: enough for typos, far too few to guess one of a million. */
function attemptsLimiter() {
  return limiter('two-factor-account', env().TWO_FACTOR_ATTEMPTS_PER_ACCOUNT, WINDOW_SECONDS);
}

/** A fresh key for setup: what the authenticator app is given, as the URI (and QR code) and as text. */
export function newTotpSetup(accountName: string): { key: string; uri: string; qrSvg: string } {
  const key = crypto.getRandomValues(new Uint8Array(TOTP_KEY_BYTES));
  const uri = createTOTPKeyURI(ISSUER, accountName, key, TOTP_PERIOD_SECONDS, TOTP_DIGITS);
  return { key: encodeBase32UpperCaseNoPadding(key), uri, qrSvg: renderSVG(uri, { border: 2 }) };
}

/** The key as typed or sent back from setup (base32, spaces and case ignored), or null if it is not one. */
export function parseTotpKey(text: string): Uint8Array | null {
  const clean = text.replace(/[\s-]/g, '').toUpperCase();
  if (!/^[A-Z2-7]{32}$/.test(clean)) return null;
  try {
    const key = decodeBase32IgnorePadding(clean);
    return key.length === TOTP_KEY_BYTES ? key : null;
  } catch {
    return null;
  }
}

export function totpCodeMatches(key: Uint8Array, code: string): boolean {
  return totpStepOf(key, code) !== null;
}

/** The time step (30 s period) whose code `code` is, within the grace period around now; null if none. */
export function totpStepOf(key: Uint8Array, code: string): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const now = Math.floor(Date.now() / 1000 / TOTP_PERIOD_SECONDS);
  const reach = Math.ceil(GRACE_SECONDS / TOTP_PERIOD_SECONDS);
  let found: number | null = null;
  // Every candidate is compared (no early exit), in constant time.
  for (let step = now - reach; step <= now + reach; step++) {
    if (constantTimeEqual(new TextEncoder().encode(generateHOTP(key, BigInt(step), TOTP_DIGITS)), new TextEncoder().encode(code))) found ??= step;
  }
  return found;
}

/**
 * Takes a code's time step for the account, once: a code (or an older one) already used cannot be
 * used again, as a code seen over a shoulder or replayed from a log within its 90 seconds would be.
 */
async function claimTotpStep(userId: string, step: number, db: DbTx): Promise<boolean> {
  const { count } = await db.user.updateMany({ where: { id: userId, OR: [{ totpStep: null }, { totpStep: { lt: step } }] }, data: { totpStep: step } });
  return count === 1;
}

/** Recovery codes as shown: 16 base32 characters (80 bits) in groups of four. */
function newRecoveryCode(): string {
  return randomToken(10).match(/.{4}/g)!.join('-');
}

/** A recovery code as typed: case, spaces and dashes do not matter. */
function normalizeRecoveryCode(code: string): string {
  return code.toLowerCase().replace(/[\s-]/g, '');
}

async function replaceRecoveryCodes(userId: string, db: DbTx): Promise<string[]> {
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await db.recoveryCode.deleteMany({ where: { userId } });
  await db.recoveryCode.createMany({ data: codes.map((code) => ({ userId, codeHash: hashToken(normalizeRecoveryCode(code)) })) });
  return codes;
}

export type EnableTwoFactorOptions = { userId: string; sessionId: string | null; key: string; code: string; db?: Db };

/**
 * Turns two-factor on with the key from setup, once `code` shows the authenticator app has it. The
 * session doing it counts as verified; every other session must give a code before it is used again.
 */
export async function enableTwoFactor({ userId, sessionId, key, code, db = defaultDb() }: EnableTwoFactorOptions): Promise<{ recoveryCodes: string[] }> {
  const bytes = parseTotpKey(key);
  if (!bytes) throw new AppError('bad_request', 'The setup key is not valid: start the setup again.');
  const user = await db.user.findUniqueOrThrow({ where: { id: userId }, select: { totpKey: true } });
  if (user.totpKey) throw new AppError('conflict', 'Two-factor authentication is already on; turn it off first to use another app.');
  await consume(attemptsLimiter(), userId, TOO_MANY);
  const step = totpStepOf(bytes, code.trim());
  if (step === null) throw new AppError('bad_request', 'That code does not match: scan the QR code (or type the key) into your authenticator app, then enter the 6-digit code it shows.');
  const sealed = seal(bytes);
  const recoveryCodes = await db.$transaction(async (tx) => {
    // Only if still off: two setups racing do not replace each other's key.
    const { count } = await tx.user.updateMany({ where: { id: userId, totpKey: null }, data: { totpKey: sealed, totpStep: step } });
    if (count !== 1) throw new AppError('conflict', 'Two-factor authentication is already on.');
    if (sessionId) await markSessionTwoFactorVerified(sessionId, tx);
    return replaceRecoveryCodes(userId, tx);
  });
  await attemptsLimiter().delete(userId).catch(() => {});
  return { recoveryCodes };
}

export type CheckCodeOptions = { userId: string; code: string; db?: DbTx };

/**
 * Checks a second-factor code: the authenticator's current code, or an unused recovery code (then
 * spent). Every attempt counts against the account's limit; a right one clears it.
 */
export async function checkSecondFactor({ userId, code, db = defaultDb() }: CheckCodeOptions): Promise<'totp' | 'recovery'> {
  const user = await db.user.findUnique({ where: { id: userId }, select: { totpKey: true } });
  if (!user?.totpKey) throw new AppError('bad_request', 'Two-factor authentication is not on for this account.');
  await consume(attemptsLimiter(), userId, TOO_MANY);
  const typed = code.trim();
  let used: 'totp' | 'recovery' | null = null;
  if (/^\d{6}$/.test(typed.replace(/\s/g, ''))) {
    const step = totpStepOf(open(user.totpKey), typed.replace(/\s/g, ''));
    if (step !== null && (await claimTotpStep(userId, step, db))) used = 'totp';
  } else if (typed.length <= 64) {
    // Spent atomically: the same code given twice at once signs in once.
    const { count } = await db.recoveryCode.updateMany({ where: { userId, codeHash: hashToken(normalizeRecoveryCode(typed)), usedAt: null }, data: { usedAt: new Date() } });
    if (count === 1) used = 'recovery';
  }
  if (!used) throw new AppError('bad_request', WRONG_CODE);
  await attemptsLimiter().delete(userId).catch(() => {});
  return used;
}

export type VerifySessionOptions = CheckCodeOptions & { sessionId: string };

/** The log-in's second step: a right code marks the session as having given the second factor. */
export async function verifySessionSecondFactor({ userId, sessionId, code, db = defaultDb() }: VerifySessionOptions): Promise<'totp' | 'recovery'> {
  const used = await checkSecondFactor({ userId, code, db });
  await markSessionTwoFactorVerified(sessionId, db);
  return used;
}

/** Turns two-factor off, given a current code (or a recovery code): the key and recovery codes are deleted. */
export async function disableTwoFactor({ userId, code, db = defaultDb() }: CheckCodeOptions & { db?: Db }): Promise<void> {
  await checkSecondFactor({ userId, code, db });
  await db.$transaction([db.user.update({ where: { id: userId }, data: { totpKey: null, totpStep: null } }), db.recoveryCode.deleteMany({ where: { userId } })]);
}

/** New recovery codes for old ones (all of which stop working), given a current code. */
export async function regenerateRecoveryCodes({ userId, code, db = defaultDb() }: CheckCodeOptions & { db?: Db }): Promise<{ recoveryCodes: string[] }> {
  await checkSecondFactor({ userId, code, db });
  return { recoveryCodes: await db.$transaction((tx) => replaceRecoveryCodes(userId, tx)) };
}

export async function twoFactorStatus(userId: string, db: DbTx = defaultDb()): Promise<{ enabled: boolean; recoveryCodesLeft: number }> {
  const [user, left] = await Promise.all([
    db.user.findUniqueOrThrow({ where: { id: userId }, select: { totpKey: true } }),
    db.recoveryCode.count({ where: { userId, usedAt: null } }),
  ]);
  return { enabled: user.totpKey !== null, recoveryCodesLeft: user.totpKey ? left : 0 };
}

/** Why a member without two-factor is refused in a team that requires it (pages link to the setup). */
export function twoFactorRequired(teamSlug: string): AppError {
  return new AppError('forbidden', `Team \`${teamSlug}\` requires two-factor authentication: turn it on in your account settings (/account), then try again.`, {
    details: { twoFactorRequired: true },
  });
}
