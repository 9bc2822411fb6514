// Authorization rows for the `account` router: the signed-in person's own address, never a key.
import { hashToken } from '../../../src/lib/server/crypto.ts';
import { hashPassword } from '../../../src/lib/server/auth/passwords.ts';
import { expecting, unique, type CallerName, type MatrixRows, type World } from './world.ts';

const PEOPLE = ['nonMember', 'member', 'admin', 'owner'] as const;
const personOf = (w: World, caller: CallerName) => ((PEOPLE as readonly string[]).includes(caller) ? w.users[caller as (typeof PEOPLE)[number]] : null);

/** A code waiting for the caller (a change of address to a fresh one), so verifying and cancelling have something to act on. */
async function pendingCode(w: World, caller: CallerName): Promise<string> {
  const user = personOf(w, caller);
  const code = 'ABCDEFGH';
  if (user) await w.db.emailVerification.create({ data: { userId: user.id, email: `${unique('new')}@example.com`, codeHash: hashToken(code), expiresAt: new Date(Date.now() + 600_000) } });
  return code;
}

/** Gives the caller a real password (the world's are placeholders), and returns it. */
async function withPassword(w: World, caller: CallerName): Promise<string> {
  const user = personOf(w, caller);
  const password = 'correct horse battery';
  if (user) await w.db.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(password) } });
  return password;
}

export const accountRows: MatrixRows = {
  'account.get': { input: () => undefined, expect: expecting('personOnly') },
  'account.verifyEmail': { input: async (w, caller) => ({ code: await pendingCode(w, caller) }), expect: expecting('personOnly') },
  'account.resendVerification': { input: () => undefined, expect: expecting('personOnly') },
  'account.changeEmail': { input: async (w, caller) => ({ email: `${unique('moved')}@example.com`, password: await withPassword(w, caller) }), expect: expecting('personOnly') },
  'account.cancelEmailChange': { input: async (w, caller) => (await pendingCode(w, caller), undefined), expect: expecting('personOnly') },
};
