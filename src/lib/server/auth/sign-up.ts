// Self-service sign-up: createUser (user + personal team), rate-limited per client address, then a
// code to verify the address. The account works in its own team at once; accepting invites waits
// for the code.
import { z } from 'zod';
import type { Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { createUser, Email, Password } from './create-user.ts';
import { authAddressLimiter } from './log-in.ts';
import { consume } from '../rate-limit.ts';
import { sendVerificationCode } from './email-verification.ts';

export const SignUpInput = z.object({ email: Email, password: Password, name: z.string().trim().max(100).optional() });

export type SignUpOptions = { email: string; password: string; name?: string; clientAddress: string; requestOrigin?: string; db?: Db };

export async function signUp({ email, password, name, clientAddress, requestOrigin, db }: SignUpOptions) {
  await consume(authAddressLimiter('signup'), clientAddress, 'Too many sign-ups from this address; try again later.');
  const input = SignUpInput.safeParse({ email, password, name: name || undefined });
  if (!input.success) throw new AppError('bad_request', input.error.issues[0].message, { details: z.flattenError(input.error).fieldErrors });
  let created: Awaited<ReturnType<typeof createUser>>;
  try {
    created = await createUser({ ...input.data, db });
  } catch (error) {
    // Sign-up necessarily reveals that an email is taken; say so plainly and point to log in.
    if (error instanceof AppError && error.code === 'conflict') {
      throw new AppError('conflict', 'An account with this email already exists. Log in instead.', { details: { email: ['An account with this email already exists.'] } });
    }
    throw error;
  }
  // The account stands even if the email does not go out: the person can ask for another code.
  await sendVerificationCode({ user: created.user, email: created.user.email, requestOrigin, db }).catch((e: unknown) =>
    console.error(`[pipet] The verification email to ${created.user.email} failed:`, (e as Error).message),
  );
  return created;
}
