// Password reset against real PostgreSQL, Redis and an SMTP server on loopback: the answer never
// says whether an account exists (nor waits on SMTP when it does), the link's token is stored
// hashed, works once and for an hour, and completing it sets the password, proves the address and
// ends every session of the account.
import { afterAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';
import { resetLinkIn, waitForMail } from '../helpers/account-mail.ts';

await useOwnDatabase('reset');
// Each message is held 1.5 s before the server takes it: a slow mail server.
const smtp = await startSmtpCapture({ onRcptTo: (_address, _session, callback) => void setTimeout(() => callback(), 1500) });
afterAll(() => smtp.close());
process.env.SMTP_URL = smtp.url;
(await import('../../src/lib/server/env.ts')).resetEnv();
const { db } = await import('../../src/lib/server/db/client.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const { logIn } = await import('../../src/lib/server/auth/log-in.ts');
const { hashToken } = await import('../../src/lib/server/crypto.ts');
const sessions = await import('../../src/lib/server/auth/sessions.ts');
const { requestPasswordReset, completePasswordReset, findPasswordReset, RESET_REQUESTED, RESET_GONE } = await import('../../src/lib/server/auth/password-reset.ts');

const PASSWORD = 'correct horse battery';
let address = 0;
const nextAddress = () => `10.2.0.${++address}`;
const request = (email: string, clientAddress = nextAddress()) => requestPasswordReset({ email, clientAddress, requestOrigin: 'http://pipet.test' });
const tokenOf = (link: string) => link.split('/reset/')[1];

async function account() {
  const { user } = await createUser({ email: `${uniqueSlug('r')}@example.com`, password: PASSWORD });
  return user;
}

describe('asking for a reset', () => {
  it('answers the same, as fast, for an account and for no account; only the account gets a link', async () => {
    const user = await account();
    const nobody = `${uniqueSlug('nobody')}@example.com`;
    const timed = async (email: string) => {
      const started = performance.now();
      const answer = await request(email);
      return { answer, ms: performance.now() - started };
    };
    const known = await timed(user.email);
    const unknown = await timed(nobody);
    expect(known.answer).toEqual({ message: RESET_REQUESTED });
    expect(unknown.answer).toEqual(known.answer);
    // The mail server takes 1.5 s per message; the answer does not wait for it.
    expect(known.ms).toBeLessThan(750);
    expect(unknown.ms).toBeLessThan(750);

    const mail = await waitForMail(smtp.mails, user.email);
    const link = resetLinkIn(mail);
    expect(link).toMatch(/^http:\/\/pipet\.test\/reset\/[a-z0-9]{32}$/);
    await new Promise((r) => setTimeout(r, 2000));
    expect(smtp.mails.filter((m) => m.to.includes(nobody))).toHaveLength(0);

    // Stored as its SHA-256 only, expiring within the hour.
    const row = await db().passwordReset.findFirstOrThrow({ where: { userId: user.id } });
    expect(row.id).toBe(hashToken(tokenOf(link)));
    expect(await db().passwordReset.findUnique({ where: { id: tokenOf(link) } })).toBeNull();
    expect(row.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(60 * 60_000);
    expect(row.expiresAt.getTime() - Date.now()).toBeGreaterThan(59 * 60_000);
  });

  it('is limited per address and per client, alike whether or not the account exists', async () => {
    const user = await account();
    const nobody = `${uniqueSlug('nobody')}@example.com`;
    for (const email of [user.email, nobody]) {
      for (let i = 0; i < 3; i++) await request(email);
      await expect(request(email)).rejects.toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
    }
    const client = nextAddress();
    for (let i = 0; i < 30; i++) await request(`${uniqueSlug('spray')}@example.com`, client);
    await expect(request(`${uniqueSlug('spray')}@example.com`, client)).rejects.toMatchObject({ code: 'rate_limited' });
    await expect(request('not an email')).rejects.toMatchObject({ code: 'bad_request' });
  });
});

describe('completing a reset', () => {
  it('sets the password, proves the address, ends every session, and works once', async () => {
    const user = await account();
    const [a, b, c] = [await sessions.createSession(user.id), await sessions.createSession(user.id), await sessions.createSession(user.id)];
    await request(user.email);
    const token = tokenOf(resetLinkIn(await waitForMail(smtp.mails, user.email)));
    expect(await findPasswordReset(token)).toMatchObject({ user: { id: user.id, email: user.email } });

    // A bad password changes nothing, and the link still works.
    await expect(completePasswordReset({ token, password: 'short' })).rejects.toMatchObject({ code: 'bad_request' });
    expect((await sessions.validateSessionToken(a.token)).user).not.toBeNull();

    const done = await completePasswordReset({ token, password: 'a brand new password' });
    expect(done).toMatchObject({ id: user.id, email: user.email, sessionsEnded: 3 });
    for (const s of [a, b, c]) expect((await sessions.validateSessionToken(s.token)).user).toBeNull();
    expect(await db().session.count({ where: { userId: user.id } })).toBe(0);
    await expect(logIn({ email: user.email, password: PASSWORD, clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'unauthorized' });
    expect(await logIn({ email: user.email, password: 'a brand new password', clientAddress: nextAddress() })).toMatchObject({ id: user.id });
    expect((await db().user.findUniqueOrThrow({ where: { id: user.id } })).emailVerifiedAt).toBeInstanceOf(Date);

    // Single use.
    expect(await findPasswordReset(token)).toBeNull();
    await expect(completePasswordReset({ token, password: 'yet another password' })).rejects.toMatchObject({ code: 'not_found', message: RESET_GONE });
    expect(await logIn({ email: user.email, password: 'a brand new password', clientAddress: nextAddress() })).toMatchObject({ id: user.id });
  });

  it('refuses an expired link and a replaced one', async () => {
    const user = await account();
    await request(user.email);
    const first = tokenOf(resetLinkIn(await waitForMail(smtp.mails, user.email)));
    await request(user.email);
    const second = tokenOf(resetLinkIn(await waitForMail(smtp.mails, user.email, { skip: 1 })));
    await expect(completePasswordReset({ token: first, password: 'a brand new password' })).rejects.toMatchObject({ code: 'not_found' });

    await db().passwordReset.updateMany({ where: { userId: user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await findPasswordReset(second)).toBeNull();
    await expect(completePasswordReset({ token: second, password: 'a brand new password' })).rejects.toMatchObject({ code: 'not_found' });
    expect(await logIn({ email: user.email, password: PASSWORD, clientAddress: nextAddress() })).toMatchObject({ id: user.id });
    await expect(completePasswordReset({ token: 'x'.repeat(200), password: 'a brand new password' })).rejects.toMatchObject({ code: 'not_found' });
  });

  it('lets an account without a password (GitHub only) set one', async () => {
    const user = await account();
    await db().user.update({ where: { id: user.id }, data: { passwordHash: null } });
    await expect(logIn({ email: user.email, password: PASSWORD, clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'unauthorized' });
    await request(user.email);
    const token = tokenOf(resetLinkIn(await waitForMail(smtp.mails, user.email)));
    await completePasswordReset({ token, password: 'my first password' });
    expect(await logIn({ email: user.email, password: 'my first password', clientAddress: nextAddress() })).toMatchObject({ id: user.id });
  });
});
