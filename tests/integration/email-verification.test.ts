// Email verification against real PostgreSQL, Redis and a real SMTP server on loopback: sign-up
// sends a code, only its hash is kept, wrong codes are counted and capped, codes expire, sending is
// rate-limited per account and per address, and an unverified account keeps its own team but
// cannot accept invites. Changing the address switches only once the new one's code is entered.
import { afterAll, describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';
import { codeIn, waitForMail } from '../helpers/account-mail.ts';

await useOwnDatabase('verify');
const smtp = await startSmtpCapture();
afterAll(() => smtp.close());
process.env.SMTP_URL = smtp.url;
(await import('../../src/lib/server/env.ts')).resetEnv();
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { signUp } = await import('../../src/lib/server/auth/sign-up.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const { logIn } = await import('../../src/lib/server/auth/log-in.ts');
const { hashToken } = await import('../../src/lib/server/crypto.ts');

const PASSWORD = 'correct horse battery';
let address = 0;
const nextAddress = () => `10.1.0.${++address}`;

async function person(email = `${uniqueSlug('p')}@example.com`) {
  const { user, team } = await signUp({ email, password: PASSWORD, clientAddress: nextAddress(), requestOrigin: 'http://pipet.test' });
  const api = createCaller(await createContext({ user, origin: 'http://pipet.test' }));
  return { user, team, api };
}
const failure = (p: Promise<unknown>) => p.then(() => ({ code: 'ok', message: '' }), (e: TRPCError) => ({ code: e.code, message: e.message }));

describe('sign-up sends a code', () => {
  it('emails an 8-character code over SMTP, keeps only its hash, and the code verifies the address once', async () => {
    const ada = await person();
    const mail = await waitForMail(smtp.mails, ada.user.email);
    expect(mail.raw).toContain('http://pipet.test/verify?code=');
    const code = codeIn(mail);
    const row = await db().emailVerification.findFirstOrThrow({ where: { userId: ada.user.id } });
    expect(row.codeHash).toBe(hashToken(code));
    expect(JSON.stringify(row)).not.toContain(code);
    expect(row.expiresAt.getTime() - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(row.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    expect(await ada.api.account.get()).toMatchObject({ email: ada.user.email, verified: false, pending: { email: ada.user.email, change: false } });
    // Typed loosely, as people do: lowercase, with a space.
    expect(await ada.api.account.verifyEmail({ code: `${code.slice(0, 4).toLowerCase()} ${code.slice(4)}` })).toEqual({ email: ada.user.email });
    expect(await ada.api.account.get()).toMatchObject({ verified: true, pending: null });
    expect((await db().user.findUniqueOrThrow({ where: { id: ada.user.id } })).emailVerifiedAt).toBeInstanceOf(Date);
    // Used once: nothing is waiting any more.
    expect(await failure(ada.api.account.verifyEmail({ code }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(await failure(ada.api.account.resendVerification())).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('already verified') });
  });

  it('counts wrong codes and refuses even the right one after five; a new code works', async () => {
    const bob = await person();
    const code = codeIn(await waitForMail(smtp.mails, bob.user.email));
    const wrong = code === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA';
    expect(await failure(bob.api.account.verifyEmail({ code: wrong }))).toEqual({ code: 'BAD_REQUEST', message: 'That code is not right; 4 tries left.' });
    for (let i = 0; i < 4; i++) await failure(bob.api.account.verifyEmail({ code: wrong }));
    expect(await failure(bob.api.account.verifyEmail({ code }))).toEqual({ code: 'BAD_REQUEST', message: 'Too many wrong codes; send a new one.' });
    expect((await db().emailVerification.findFirstOrThrow({ where: { userId: bob.user.id } })).attempts).toBe(5);
    expect((await bob.api.account.get()).verified).toBe(false);

    expect(await failure(bob.api.account.verifyEmail({ code: 'not a code!' }))).toMatchObject({ code: 'BAD_REQUEST', message: expect.stringContaining('8 letters and digits') });
    await bob.api.account.resendVerification();
    const fresh = codeIn(await waitForMail(smtp.mails, bob.user.email, { skip: 1 }));
    expect(await failure(bob.api.account.verifyEmail({ code }))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await bob.api.account.verifyEmail({ code: fresh })).toEqual({ email: bob.user.email });
  });

  it('refuses an expired code', async () => {
    const cy = await person();
    const code = codeIn(await waitForMail(smtp.mails, cy.user.email));
    await db().emailVerification.updateMany({ where: { userId: cy.user.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await failure(cy.api.account.verifyEmail({ code }))).toEqual({ code: 'BAD_REQUEST', message: 'This code has expired; send a new one.' });
    expect((await cy.api.account.get()).verified).toBe(false);
  });

  it('limits codes sent per account and per address', async () => {
    const dee = await person();
    await waitForMail(smtp.mails, dee.user.email);
    // The sign-up's code was the first of five an hour.
    for (let i = 0; i < 4; i++) await dee.api.account.resendVerification();
    expect(await failure(dee.api.account.resendVerification())).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(smtp.mails.filter((m) => m.to.includes(dee.user.email))).toHaveLength(5);

    // One address, asked for by several accounts: five an hour in all.
    const target = `${uniqueSlug('target')}@example.com`;
    const [e, f] = [await person(), await person()];
    for (let i = 0; i < 3; i++) await e.api.account.changeEmail({ email: target, password: PASSWORD });
    for (let i = 0; i < 2; i++) await f.api.account.changeEmail({ email: target, password: PASSWORD });
    expect(await failure(f.api.account.changeEmail({ email: target, password: PASSWORD }))).toMatchObject({ code: 'TOO_MANY_REQUESTS' });
    expect(smtp.mails.filter((m) => m.to.includes(target))).toHaveLength(5);
  });
});

describe('verification gates', () => {
  it('an unverified account uses its own team but accepts no invite until verified; an operator-made account is verified', async () => {
    const owner = await person();
    const guest = await person();
    const code = codeIn(await waitForMail(smtp.mails, guest.user.email));
    // Its own first team works as before.
    await guest.api.stream.create({ team: guest.team.slug, stream: 'notes' });
    expect((await guest.api.stream.list({ team: guest.team.slug })).map((s) => s.slug)).toEqual(['notes']);

    for (const role of ['member', 'admin'] as const) {
      const invite = await owner.api.invite.create({ team: owner.team.slug, email: guest.user.email, role });
      const token = invite.url.split('/invite/')[1];
      expect(await failure(guest.api.invite.accept({ token }))).toEqual({ code: 'FORBIDDEN', message: expect.stringContaining('Verify your email address') });
      expect(await failure(guest.api.team.get({ team: owner.team.slug }))).toMatchObject({ code: 'NOT_FOUND' });
      // Nothing happened: the invite still waits.
      expect((await owner.api.invite.list({ team: owner.team.slug })).map((i) => i.id)).toEqual([invite.id]);
    }
    const adminInvite = (await db().invite.findFirstOrThrow({ where: { email: guest.user.email, revokedAt: null } }));
    expect(adminInvite.role).toBe('admin');

    await guest.api.account.verifyEmail({ code });
    const token = (await owner.api.invite.create({ team: owner.team.slug, email: guest.user.email, role: 'admin' })).url.split('/invite/')[1];
    expect(await guest.api.invite.accept({ token })).toEqual({ team: { slug: owner.team.slug, name: expect.any(String) }, role: 'admin' });

    const made = await createUser({ email: `${uniqueSlug('op')}@example.com`, password: PASSWORD, verified: true });
    expect((await db().user.findUniqueOrThrow({ where: { id: made.user.id } })).emailVerifiedAt).toBeInstanceOf(Date);
  });
});

describe('changing the address', () => {
  it('sends a code to the new address and switches only once it is entered', async () => {
    const gus = await person();
    const signUpCode = codeIn(await waitForMail(smtp.mails, gus.user.email));
    await gus.api.account.verifyEmail({ code: signUpCode });
    const newEmail = `${uniqueSlug('gus-new')}@example.com`;

    expect(await failure(gus.api.account.changeEmail({ email: newEmail, password: 'not my password' }))).toEqual({ code: 'FORBIDDEN', message: 'Your current password is not right.' });
    expect(await failure(gus.api.account.changeEmail({ email: newEmail }))).toMatchObject({ code: 'FORBIDDEN' });
    expect(await failure(gus.api.account.changeEmail({ email: 'nope', password: PASSWORD }))).toMatchObject({ code: 'BAD_REQUEST' });
    const other = await person();
    expect(await failure(gus.api.account.changeEmail({ email: other.user.email, password: PASSWORD }))).toMatchObject({ code: 'CONFLICT' });
    expect(await failure(gus.api.account.changeEmail({ email: gus.user.email, password: PASSWORD }))).toMatchObject({ code: 'BAD_REQUEST' });
    expect(smtp.mails.filter((m) => m.to.includes(newEmail))).toHaveLength(0);

    expect(await gus.api.account.changeEmail({ email: newEmail.toUpperCase(), password: PASSWORD })).toMatchObject({ email: newEmail });
    const code = codeIn(await waitForMail(smtp.mails, newEmail));
    // Until the code is entered, the account is still the old, verified address.
    expect(await gus.api.account.get()).toMatchObject({ email: gus.user.email, verified: true, pending: { email: newEmail, change: true } });
    expect(await logIn({ email: gus.user.email, password: PASSWORD, clientAddress: nextAddress() })).toMatchObject({ id: gus.user.id });

    // Keeping the old address drops the pending change; asking again sends a new code.
    await gus.api.account.cancelEmailChange();
    expect(await failure(gus.api.account.verifyEmail({ code }))).toMatchObject({ code: 'NOT_FOUND' });
    await gus.api.account.changeEmail({ email: newEmail, password: PASSWORD });
    const second = codeIn(await waitForMail(smtp.mails, newEmail, { skip: 1 }));
    expect(await gus.api.account.verifyEmail({ code: second })).toEqual({ email: newEmail });
    expect(await gus.api.account.get()).toMatchObject({ email: newEmail, verified: true, pending: null });
    expect(await logIn({ email: newEmail, password: PASSWORD, clientAddress: nextAddress() })).toMatchObject({ id: gus.user.id });
    await expect(logIn({ email: gus.user.email, password: PASSWORD, clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'unauthorized' });
  });

  it('refuses the switch when another account took the address meanwhile', async () => {
    const hal = await person();
    const wanted = `${uniqueSlug('wanted')}@example.com`;
    await hal.api.account.changeEmail({ email: wanted, password: PASSWORD });
    const code = codeIn(await waitForMail(smtp.mails, wanted));
    await person(wanted);
    expect(await failure(hal.api.account.verifyEmail({ code }))).toMatchObject({ code: 'CONFLICT' });
    expect((await hal.api.account.get()).email).toBe(hal.user.email);
  });
});
