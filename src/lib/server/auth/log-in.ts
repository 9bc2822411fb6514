// Email + password log-in, rate-limited in Redis per client address and per (account, client
// address): someone guessing a password from elsewhere never locks the real person out. Unknown
// email and wrong password fail alike (same message, same argon2 cost) so accounts can't be probed.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { consume, limiter } from '../rate-limit.ts';

const WINDOW_SECONDS = 15 * 60;
export const BAD_CREDENTIALS = 'Incorrect email or password.';
const TOO_MANY = 'Too many attempts; wait a few minutes and try again.';

export function authAddressLimiter(action: 'login' | 'signup') {
  return limiter(`auth-${action}-address`, env().AUTH_RATE_LIMIT_PER_ADDRESS, WINDOW_SECONDS);
}

/** Attempts at one account from one client address. */
export function authAccountLimiter() {
  return limiter('auth-login-account-address', env().AUTH_RATE_LIMIT_PER_ACCOUNT, WINDOW_SECONDS);
}

let dummyHash: Promise<string> | undefined;

export type LogInOptions = { email: string; password: string; clientAddress: string; db?: DbTx };

/** The account whose password was given; `twoFactor`: it has two-factor on, so its session must still give a code. */
export async function logIn({ email, password, clientAddress, db = defaultDb() }: LogInOptions): Promise<{ id: string; email: string; twoFactor: boolean }> {
  const cleanEmail = email.trim().toLowerCase();
  await consume(authAddressLimiter('login'), clientAddress, TOO_MANY);
  if (cleanEmail) await consume(authAccountLimiter(), `${cleanEmail} ${clientAddress}`, TOO_MANY);
  const user = cleanEmail ? await db.user.findUnique({ where: { email: cleanEmail }, select: { id: true, email: true, passwordHash: true, totpKey: true } }) : null;
  if (!user?.passwordHash) {
    // Spend the same time as a real check, so timing does not reveal which emails have accounts
    // (or which sign in through GitHub only, with no password).
    dummyHash ??= hashPassword('not a real password');
    await verifyPassword(await dummyHash, password);
    throw new AppError('unauthorized', BAD_CREDENTIALS);
  }
  if (!(await verifyPassword(user.passwordHash, password))) throw new AppError('unauthorized', BAD_CREDENTIALS);
  return { id: user.id, email: user.email, twoFactor: user.totpKey !== null };
}
