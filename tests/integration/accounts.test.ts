// Accounts, teams, invites and keys through appRouter.createCaller with real contexts, plus
// sessions and log-in rate limits against real PostgreSQL and Redis.
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';

await useOwnDatabase('accounts');
// Small limits so the rate-limit tests stay short (read when env() is first parsed).
Object.assign(process.env, { AUTH_RATE_LIMIT_PER_ACCOUNT: '3', AUTH_RATE_LIMIT_PER_ADDRESS: '6' });
(await import('../../src/lib/server/env.ts')).resetEnv();
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { signUp } = await import('../../src/lib/server/auth/sign-up.ts');
const { logIn, BAD_CREDENTIALS } = await import('../../src/lib/server/auth/log-in.ts');
const sessions = await import('../../src/lib/server/auth/sessions.ts');

let address = 0;
/** A fresh client address per sign-up, so the per-address limit only bites where a test wants it. */
const nextAddress = () => `10.0.0.${++address}`;

async function person(email = `${uniqueSlug('p')}@example.com`) {
  const { user, team } = await signUp({ email, password: 'correct horse battery', clientAddress: nextAddress() });
  const api = createCaller(await createContext({ user, origin: 'http://pipet.test' }));
  return { user, team, api };
}
/** Setup only: the address counts as proven (the real flow is tested in email-verification.test.ts). */
const markVerified = (user: { id: string }) => db().user.update({ where: { id: user.id }, data: { emailVerifiedAt: new Date() } });
const asKey = async (key: string) => createCaller(await createContext({ authorization: `Bearer ${key}` }));
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: TRPCError) => e.code);

describe('a person signs up, builds a team and brings a teammate', () => {
  it('signs up into a personal team, creates a stream and a key, invites a teammate who accepts and sees the stream', async () => {
    const ada = await person();
    expect(await ada.api.team.list()).toEqual([{ slug: ada.team.slug, name: expect.any(String), personal: true, role: 'owner' }]);

    const acme = uniqueSlug('acme');
    await ada.api.team.create({ slug: acme, name: 'Acme' });
    await ada.api.stream.create({ team: acme, stream: 'signups' });
    const key = await ada.api.apiKey.create({ team: acme, name: 'site', scopes: ['ingest', 'read'] });
    expect(key.key).toMatch(/^pk_[a-z0-9]+_[a-z0-9]+$/);
    const listed = await ada.api.apiKey.list({ team: acme });
    expect(listed).toEqual([expect.objectContaining({ id: key.id, prefix: key.prefix, scopes: ['ingest', 'read'], stream: null, lastUsedAt: null })]);
    expect(JSON.stringify(listed)).not.toContain(key.key);
    expect(listed[0]).not.toHaveProperty('hash');

    const bobEmail = `${uniqueSlug('bob')}@example.com`;
    const invite = await ada.api.invite.create({ team: acme, email: bobEmail, role: 'member' });
    expect(invite.emailStatus).toBe('stored');
    const token = invite.url.split('/invite/')[1];
    expect(invite.url).toBe(`http://pipet.test/invite/${token}`);
    // Stored hashed only; the email in the team's outbox carries the link.
    expect(await db().invite.findFirst({ where: { tokenHash: token } })).toBeNull();
    const email = await db().emailMessage.findFirstOrThrow({ where: { to: bobEmail } });
    expect(email.text).toContain(invite.url);
    expect(email.html).toContain(invite.url);

    const bob = await person(bobEmail);
    expect(await bob.api.invite.preview({ token })).toMatchObject({ team: { slug: acme, name: 'Acme' }, role: 'member', email: bobEmail });
    expect(await code(bob.api.stream.list({ team: acme }))).toBe('NOT_FOUND');
    await markVerified(bob.user);
    expect(await bob.api.invite.accept({ token })).toEqual({ team: { slug: acme, name: 'Acme' }, role: 'member' });
    expect((await bob.api.stream.list({ team: acme })).map((s) => s.slug)).toEqual(['signups']);
    expect((await bob.api.team.list()).map((t) => [t.slug, t.role])).toEqual([[bob.team.slug, 'owner'], [acme, 'member']]);
    // A member manages streams but not keys or members.
    expect(await code(bob.api.apiKey.list({ team: acme }))).toBe('FORBIDDEN');
    expect(await code(bob.api.member.updateRole({ team: acme, userId: bob.user.id, role: 'admin' }))).toBe('FORBIDDEN');

    // The link works once.
    const carol = await person();
    expect(await code(carol.api.invite.accept({ token }))).toBe('NOT_FOUND');
    expect(await code(carol.api.invite.preview({ token }))).toBe('NOT_FOUND');
  });
});

describe('roles', () => {
  it('keeps a last owner, lets owners transfer ownership, and limits admins to members and admins', async () => {
    const owner = await person();
    const admin = await person();
    const slug = uniqueSlug('roles');
    await owner.api.team.create({ slug });
    const team = (await db().team.findUniqueOrThrow({ where: { slug } })).id;
    await db().membership.create({ data: { teamId: team, userId: admin.user.id, role: 'admin' } });

    expect(await code(owner.api.member.leave({ team: slug }))).toBe('BAD_REQUEST');
    expect(await code(owner.api.member.updateRole({ team: slug, userId: owner.user.id, role: 'admin' }))).toBe('BAD_REQUEST');
    expect(await code(owner.api.member.remove({ team: slug, userId: owner.user.id }))).toBe('BAD_REQUEST');
    expect(await code(admin.api.member.updateRole({ team: slug, userId: owner.user.id, role: 'member' }))).toBe('FORBIDDEN');
    expect(await code(admin.api.member.updateRole({ team: slug, userId: admin.user.id, role: 'owner' }))).toBe('FORBIDDEN');
    expect(await code(admin.api.member.remove({ team: slug, userId: owner.user.id }))).toBe('FORBIDDEN');
    expect(await code(admin.api.invite.create({ team: slug, email: 'x@example.com', role: 'owner' }))).toBe('FORBIDDEN');
    expect(await code(admin.api.team.delete({ team: slug, confirm: slug }))).toBe('FORBIDDEN');

    await owner.api.team.transferOwnership({ team: slug, userId: admin.user.id });
    expect(Object.fromEntries((await owner.api.member.list({ team: slug })).map((m) => [m.userId, m.role]))).toEqual({ [owner.user.id]: 'admin', [admin.user.id]: 'owner' });
    await owner.api.member.leave({ team: slug });
    expect(await code(owner.api.team.get({ team: slug }))).toBe('NOT_FOUND');

    expect(await code(admin.api.team.delete({ team: slug, confirm: 'wrong' }))).toBe('BAD_REQUEST');
    expect(await admin.api.team.delete({ team: slug, confirm: slug })).toEqual({ deleted: slug });
    expect(await db().team.findUnique({ where: { slug } })).toBeNull();
    expect(await code(admin.api.team.delete({ team: admin.team.slug, confirm: admin.team.slug }))).toBe('BAD_REQUEST');
  });

  it('renames, updates settings and rotates the Standard Webhooks signing secret', async () => {
    const p = await person();
    const team = p.team.slug;
    expect(await p.api.team.rename({ team, name: 'Renamed' })).toMatchObject({ slug: team, name: 'Renamed' });
    expect(await p.api.team.update({ team, autoCreateStreams: false, emailFrom: 'Acme <ops@acme.example>' })).toMatchObject({ autoCreateStreams: false, emailFrom: 'Acme <ops@acme.example>' });
    const { signingSecret } = await p.api.team.signingSecret({ team });
    expect(signingSecret).toMatch(/^whsec_[A-Za-z0-9+/=]{32}$/);
    const rotated = await p.api.team.rotateSigningSecret({ team });
    expect(rotated.signingSecret).toMatch(/^whsec_/);
    expect(rotated.signingSecret).not.toBe(signingSecret);
    expect(await p.api.team.signingSecret({ team })).toEqual(rotated);
    expect(await code(p.api.team.create({ slug: 'login' }))).toBe('CONFLICT');
  });
});

describe('invites', () => {
  it('refuses expired and revoked links, and a re-invite replaces the pending one', async () => {
    const owner = await person();
    const team = owner.team.slug;
    const guest = await person();
    const first = await owner.api.invite.create({ team, email: guest.user.email });
    const second = await owner.api.invite.create({ team, email: guest.user.email, role: 'admin' });
    expect((await owner.api.invite.list({ team })).map((i) => i.id)).toEqual([second.id]);
    expect(await code(guest.api.invite.accept({ token: first.url.split('/invite/')[1] }))).toBe('NOT_FOUND');

    await owner.api.invite.revoke({ team, id: second.id });
    expect(await code(guest.api.invite.accept({ token: second.url.split('/invite/')[1] }))).toBe('NOT_FOUND');
    expect(await code(owner.api.invite.revoke({ team, id: second.id }))).toBe('NOT_FOUND');

    const third = await owner.api.invite.create({ team, email: guest.user.email });
    await db().invite.update({ where: { id: third.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await owner.api.invite.list({ team }))[0]).toMatchObject({ id: third.id, expired: true });
    expect(await code(guest.api.invite.accept({ token: third.url.split('/invite/')[1] }))).toBe('NOT_FOUND');
    expect(await code(guest.api.team.get({ team }))).toBe('NOT_FOUND');

    // Inviting someone already in the team is a conflict; invites expire 7 days out.
    expect(await code(owner.api.invite.create({ team, email: owner.user.email }))).toBe('CONFLICT');
    const fourth = await owner.api.invite.create({ team, email: 'later@example.com' });
    expect(Math.round((fourth.expiresAt.getTime() - Date.now()) / 86_400_000)).toBe(7);
  });
});

describe('API keys', () => {
  it('a manage key runs the API for its own team only, and stops the moment it is revoked', async () => {
    const p = await person();
    const team = p.team.slug;
    await p.api.stream.create({ team, stream: 'orders' });
    const manage = await p.api.apiKey.create({ team, name: 'script', scopes: ['manage'] });
    const limited = await p.api.apiKey.create({ team, name: 'form', scopes: ['ingest'], stream: 'orders' });
    expect(limited.stream).toBe('orders');
    expect(await code(p.api.apiKey.create({ team, name: 'bad', scopes: ['manage'], stream: 'orders' }))).toBe('BAD_REQUEST');
    expect(await code(p.api.apiKey.create({ team, name: 'none', scopes: [] }))).toBe('BAD_REQUEST');

    const script = await asKey(manage.key);
    expect((await script.stream.list({ team })).map((s) => s.slug)).toEqual(['orders']);
    expect(await code(script.team.list())).toBe('FORBIDDEN');
    const other = await person();
    expect(await code(script.stream.list({ team: other.team.slug }))).toBe('NOT_FOUND');

    await p.api.apiKey.revoke({ team, id: manage.id });
    // The very next request (a fresh context, as /api/trpc makes per request) is refused.
    expect(await code((await asKey(manage.key)).stream.list({ team }))).toBe('UNAUTHORIZED');
    expect((await p.api.apiKey.list({ team })).map((k) => k.id)).toEqual([limited.id]);
  });
});

describe('sessions', () => {
  it('stores only the hash, slides the expiry forward, and logs out everywhere', async () => {
    const p = await person();
    const { token, session } = await sessions.createSession(p.user.id);
    expect(await db().session.findUnique({ where: { id: token } })).toBeNull();
    expect(session.id).not.toBe(token);
    expect(await sessions.validateSessionToken(token)).toMatchObject({ user: { id: p.user.id, email: p.user.email } });

    // Within 15 days of expiry a use renews it to 30 days.
    await db().session.update({ where: { id: session.id }, data: { expiresAt: new Date(Date.now() + 10 * 86_400_000) } });
    const renewed = await sessions.validateSessionToken(token);
    expect(renewed.session!.expiresAt.getTime()).toBeGreaterThan(Date.now() + 29 * 86_400_000);

    await db().session.update({ where: { id: session.id }, data: { expiresAt: new Date(Date.now() - 1) } });
    expect(await sessions.validateSessionToken(token)).toEqual({ session: null, user: null });
    expect(await db().session.findUnique({ where: { id: session.id } })).toBeNull();

    const a = await sessions.createSession(p.user.id);
    const b = await sessions.createSession(p.user.id);
    expect(await sessions.invalidateUserSessions(p.user.id)).toBe(2);
    for (const s of [a, b]) expect((await sessions.validateSessionToken(s.token)).user).toBeNull();
  });
});

describe('log in', () => {
  it('says the same for an unknown email and a wrong password', async () => {
    const p = await person();
    const unknown = await logIn({ email: 'nobody@example.com', password: 'whatever123', clientAddress: nextAddress() }).catch((e) => e);
    const wrong = await logIn({ email: p.user.email, password: 'wrong password', clientAddress: nextAddress() }).catch((e) => e);
    expect([unknown.code, unknown.message]).toEqual(['unauthorized', BAD_CREDENTIALS]);
    expect([wrong.code, wrong.message]).toEqual(['unauthorized', BAD_CREDENTIALS]);
    expect(await logIn({ email: p.user.email.toUpperCase(), password: 'correct horse battery', clientAddress: nextAddress() })).toEqual({ ...p.user, twoFactor: false });
  });

  it('is rate-limited per account and address, and per address, in Redis', async () => {
    const p = await person();
    const attacker = nextAddress();
    for (let i = 0; i < 3; i++) await logIn({ email: p.user.email, password: 'nope', clientAddress: attacker }).catch(() => {});
    // The guesser's address is stopped for this account, even with the right password...
    await expect(logIn({ email: p.user.email, password: 'correct horse battery', clientAddress: attacker })).rejects.toMatchObject({ code: 'rate_limited', retryAfter: expect.any(Number) });
    // ...but the real person, from their own address, is not locked out by someone else's guesses.
    expect(await logIn({ email: p.user.email, password: 'correct horse battery', clientAddress: nextAddress() })).toEqual({ ...p.user, twoFactor: false });

    const address = nextAddress();
    for (let i = 0; i < 6; i++) await logIn({ email: `${uniqueSlug('x')}@example.com`, password: 'nope', clientAddress: address }).catch(() => {});
    await expect(logIn({ email: `${uniqueSlug('y')}@example.com`, password: 'nope', clientAddress: address })).rejects.toMatchObject({ code: 'rate_limited' });
    const keys = await (await import('../../src/lib/server/redis.ts')).redis().keys(`${process.env.QUEUE_PREFIX}:rl:auth-*`);
    expect(keys.length).toBeGreaterThan(0);
  });

  it('refuses bad sign-ups with field messages, and a taken email', async () => {
    await expect(signUp({ email: 'not-an-email', password: 'long enough', clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'bad_request', details: { email: [expect.any(String)] } });
    await expect(signUp({ email: 'short@example.com', password: 'short', clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'bad_request', details: { password: [expect.any(String)] } });
    const p = await person();
    await expect(signUp({ email: p.user.email, password: 'long enough', clientAddress: nextAddress() })).rejects.toMatchObject({ code: 'conflict' });
  });
});
