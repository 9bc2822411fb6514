// Two-factor authentication through the management API and the log-in's second step, on a real
// database and Redis: TOTP codes computed here with @oslojs/otp at a fixed time, the key sealed at
// rest, recovery codes single-use, wrong codes limited per account, disabling with a code, and a
// team's requirement refusing members without two-factor (but not its keys).
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { generateTOTP } from '@oslojs/otp';
import { TRPCError } from '@trpc/server';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';

// Before anything reads the environment: this file's own key for sealing TOTP keys.
process.env.SECRETS_KEY = randomBytes(32).toString('base64');
await useOwnDatabase('two-factor');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
const { logIn } = await import('../../src/lib/server/auth/log-in.ts');
const sessions = await import('../../src/lib/server/auth/sessions.ts');
const twoFactor = await import('../../src/lib/server/auth/two-factor.ts');
const { open, seal } = await import('../../src/lib/server/auth/secret-box.ts');
const { parseTotpKey } = twoFactor;

const PASSWORD = 'correct horse battery';
/** A fixed moment: 2026-03-01T12:00:10Z, 10 s into a 30-second period. */
const FIXED = Date.UTC(2026, 2, 1, 12, 0, 10);

afterEach(() => vi.useRealTimers());

/** The code an authenticator app shows at `at` for the key as the setup page gives it. */
function codeAt(key: string, at: number): string {
  vi.setSystemTime(at);
  return generateTOTP(parseTotpKey(key)!, 30, 6);
}

async function person() {
  const email = `${uniqueSlug('ada')}@example.com`;
  const { user, team } = await createUser({ email, password: PASSWORD, db: db() });
  const { token, session } = await sessions.createSession(user.id, db(), { userAgent: 'test', address: '127.0.0.1' });
  const api = async () => {
    const validated = await sessions.validateSessionToken(token, db());
    return createCaller(await createContext({ user: validated.user, session: validated.session, db: db() }));
  };
  return { user, team, token, session, api };
}

/** Turns two-factor on for `p` through the API, at the fixed time; returns the key and recovery codes. */
async function enable(p: Awaited<ReturnType<typeof person>>) {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(FIXED);
  const api = await p.api();
  const setup = await api.twoFactor.setup();
  const { recoveryCodes } = await api.twoFactor.enable({ key: setup.key, code: codeAt(setup.key, FIXED) });
  return { key: setup.key, recoveryCodes };
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (e: unknown) => (e instanceof TRPCError ? e.code : `${(e as Error).name}: ${(e as Error).message}`),
  );
}

describe('two-factor authentication', () => {
  it('is turned on with a code for the current period only (fixed clock), and the key is sealed at rest', async () => {
    const p = await person();
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(FIXED);
    const api = await p.api();
    const setup = await api.twoFactor.setup();
    expect(setup.uri).toMatch(/^otpauth:\/\/totp\/Pipet:.+\?.*secret=/);
    expect(setup.uri).toContain(`secret=${setup.key}`);
    expect(setup.qrSvg).toMatch(/^<svg[\s\S]*<\/svg>$/);
    // Nothing is stored by the setup alone.
    expect((await db().user.findUniqueOrThrow({ where: { id: p.user.id } })).totpKey).toBeNull();

    // A code from two periods ago (a minute old) is refused, and so is a code from another key.
    const old = codeAt(setup.key, FIXED - 60_000);
    const otherKey = (await api.twoFactor.setup()).key;
    vi.setSystemTime(FIXED);
    await expect(api.twoFactor.enable({ key: setup.key, code: old })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(api.twoFactor.enable({ key: setup.key, code: codeAt(otherKey, FIXED) })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect((await db().user.findUniqueOrThrow({ where: { id: p.user.id } })).totpKey).toBeNull();

    // The previous period's code is still taken (clock drift), as is the current one.
    const { recoveryCodes } = await api.twoFactor.enable({ key: setup.key, code: codeAt(setup.key, FIXED - 30_000) });
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    for (const c of recoveryCodes) expect(c).toMatch(/^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);

    const row = await db().user.findUniqueOrThrow({ where: { id: p.user.id }, select: { totpKey: true } });
    const raw = Buffer.from(parseTotpKey(setup.key)!);
    expect(Buffer.from(row.totpKey!).includes(raw)).toBe(false);
    expect(Buffer.from(open(row.totpKey!))).toEqual(raw);
    // Recovery codes are stored as hashes only.
    const stored = await db().recoveryCode.findMany({ where: { userId: p.user.id } });
    expect(stored).toHaveLength(10);
    for (const r of stored) expect(recoveryCodes.some((c) => r.codeHash.includes(c.replace(/-/g, '')))).toBe(false);
    // The session that turned it on stays signed in; a second enable is refused.
    expect((await sessions.validateSessionToken(p.token, db())).session?.twoFactorVerified).toBe(true);
    await expect(api.twoFactor.enable({ key: otherKey, code: codeAt(otherKey, FIXED) })).rejects.toMatchObject({ code: 'CONFLICT' });
    expect(await api.twoFactor.status()).toEqual({ enabled: true, recoveryCodesLeft: 10 });
  });

  it('makes log-in a second step: the new session owes a code until one is given', async () => {
    const p = await person();
    const { key } = await enable(p);
    // Other sessions, made before it was on, now owe the code too.
    const other = await sessions.validateSessionToken((await sessions.createSession(p.user.id, db())).token, db());
    expect(other.user?.twoFactor).toBe(true);
    expect(other.session?.twoFactorVerified).toBe(false);

    const loggedIn = await logIn({ email: p.user.email, password: PASSWORD, clientAddress: '127.0.0.1', db: db() });
    expect(loggedIn.twoFactor).toBe(true);
    const { token, session } = await sessions.createSession(loggedIn.id, db());
    expect(session.twoFactorVerified).toBe(false);

    // Five minutes later, the code of then is refused and the code of now taken.
    const stale = codeAt(key, FIXED);
    const current = codeAt(key, FIXED + 5 * 60_000);
    await expect(twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: session.id, code: stale, db: db() })).rejects.toThrow(twoFactor.WRONG_CODE);
    expect((await sessions.validateSessionToken(token, db())).session?.twoFactorVerified).toBe(false);
    expect(await twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: session.id, code: current, db: db() })).toBe('totp');
    expect((await sessions.validateSessionToken(token, db())).session?.twoFactorVerified).toBe(true);

    // A code is taken once: the same code (seen over a shoulder, replayed from a log) within its
    // window is refused for another session, and so is the code of the period before it.
    const replay = await sessions.createSession(p.user.id, db());
    await expect(twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: replay.session.id, code: current, db: db() })).rejects.toThrow(twoFactor.WRONG_CODE);
    const before = codeAt(key, FIXED + 5 * 60_000 - 30_000);
    vi.setSystemTime(FIXED + 5 * 60_000);
    await expect(twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: replay.session.id, code: before, db: db() })).rejects.toThrow(twoFactor.WRONG_CODE);
    expect((await sessions.validateSessionToken(replay.token, db())).session?.twoFactorVerified).toBe(false);
    // The next period's code is fresh.
    expect(await twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: replay.session.id, code: codeAt(key, FIXED + 5 * 60_000 + 30_000), db: db() })).toBe('totp');
  });

  it('takes each recovery code once, and new codes replace the old ones', async () => {
    const p = await person();
    const { key, recoveryCodes } = await enable(p);
    const s1 = (await sessions.createSession(p.user.id, db())).session;
    const s2 = (await sessions.createSession(p.user.id, db())).session;
    // Typed in capitals with spaces instead of dashes: the same code.
    const typed = recoveryCodes[3].toUpperCase().replace(/-/g, ' ');
    expect(await twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: s1.id, code: typed, db: db() })).toBe('recovery');
    await expect(twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: s2.id, code: recoveryCodes[3], db: db() })).rejects.toThrow(twoFactor.WRONG_CODE);
    const api = await p.api();
    expect(await api.twoFactor.status()).toEqual({ enabled: true, recoveryCodesLeft: 9 });

    // New codes need a current code; the old ones stop working.
    await expect(codeOf(api.twoFactor.regenerateRecoveryCodes({ code: '000000' }))).resolves.toBe('BAD_REQUEST');
    const fresh = await api.twoFactor.regenerateRecoveryCodes({ code: codeAt(key, FIXED + 30_000) });
    expect(fresh.recoveryCodes).toHaveLength(10);
    await expect(twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: s2.id, code: recoveryCodes[0], db: db() })).rejects.toThrow(twoFactor.WRONG_CODE);
    expect(await twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: s2.id, code: fresh.recoveryCodes[0], db: db() })).toBe('recovery');
  });

  it('limits wrong codes per account: past the limit even the right code waits', async () => {
    const p = await person();
    const { key } = await enable(p);
    const { session } = await sessions.createSession(p.user.id, db());
    const attempt = (code: string) => twoFactor.verifySessionSecondFactor({ userId: p.user.id, sessionId: session.id, code, db: db() }).then(() => 'ok', (e: Error) => e.message);
    const wrong = [];
    for (let i = 0; i < 10; i++) wrong.push(await attempt(String(100000 + i)));
    expect(wrong.every((m) => m === twoFactor.WRONG_CODE)).toBe(true);
    expect(await attempt(codeAt(key, FIXED))).toMatch(/Too many wrong codes/);
    expect((await db().session.findUniqueOrThrow({ where: { id: session.id } })).twoFactorVerified).toBe(false);
    // Another account is not affected.
    const q = await person();
    const { key: qKey } = await enable(q);
    const { session: qs } = await sessions.createSession(q.user.id, db());
    expect(await twoFactor.verifySessionSecondFactor({ userId: q.user.id, sessionId: qs.id, code: codeAt(qKey, FIXED + 30_000), db: db() })).toBe('totp');
  });

  it('is turned off only with a current code', async () => {
    const p = await person();
    const { key } = await enable(p);
    const api = await p.api();
    await expect(codeOf(api.twoFactor.disable({ code: '123456' }))).resolves.toBe('BAD_REQUEST');
    expect((await db().user.findUniqueOrThrow({ where: { id: p.user.id } })).totpKey).not.toBeNull();
    await api.twoFactor.disable({ code: codeAt(key, FIXED + 30_000) });
    expect(await api.twoFactor.status()).toEqual({ enabled: false, recoveryCodesLeft: 0 });
    expect(await db().recoveryCode.count({ where: { userId: p.user.id } })).toBe(0);
    expect((await logIn({ email: p.user.email, password: PASSWORD, clientAddress: '127.0.0.2', db: db() })).twoFactor).toBe(false);
  });

  it('keys sealed under another SECRETS_KEY are never read as a wrong key', async () => {
    const sealed = seal(new Uint8Array([1, 2, 3]));
    expect([...open(sealed)]).toEqual([1, 2, 3]);
    const tampered = new Uint8Array(sealed);
    tampered[20] ^= 1;
    expect(() => open(tampered)).toThrow(/cannot be decrypted/);
  });
});

describe("a team's two-factor requirement", () => {
  it('is set by an owner who has two-factor on, and refuses members without it, but not keys', async () => {
    const owner = await person();
    const member = await person();
    const admin = await person();
    const team = owner.team.slug;
    await db().membership.createMany({ data: [{ teamId: owner.team.id, userId: member.user.id, role: 'member' }, { teamId: owner.team.id, userId: admin.user.id, role: 'admin' }] });
    const manageKey = (await createApiKey({ teamId: owner.team.id, name: 'script', scopes: ['manage'], db: db() })).key;
    const keyApi = createCaller(await createContext({ authorization: `Bearer ${manageKey}`, db: db() }));

    // Not before the owner has it; never by an admin or a key.
    await expect(codeOf((await owner.api()).team.update({ team, requireTwoFactor: true }))).resolves.toBe('BAD_REQUEST');
    await enable(owner);
    await enable(admin);
    await expect(codeOf((await admin.api()).team.update({ team, requireTwoFactor: true }))).resolves.toBe('FORBIDDEN');
    await expect(codeOf(keyApi.team.update({ team, requireTwoFactor: true }))).resolves.toBe('FORBIDDEN');
    expect(await (await member.api()).stream.list({ team })).toEqual([]);
    expect(await (await owner.api()).team.update({ team, requireTwoFactor: true })).toMatchObject({ requireTwoFactor: true });

    // The member without two-factor: FORBIDDEN, saying where to turn it on; still NOT_FOUND for outsiders.
    const memberApi = await member.api();
    const refused = await memberApi.stream.list({ team }).catch((e: TRPCError) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect(refused).toMatchObject({ code: 'FORBIDDEN' });
    expect((refused as TRPCError).message).toMatch(/requires two-factor authentication.*\/account/);
    await expect(codeOf(memberApi.team.get({ team }))).resolves.toBe('FORBIDDEN');
    const outsider = await person();
    await expect(codeOf((await outsider.api()).stream.list({ team }))).resolves.toBe('NOT_FOUND');
    // Their own account's procedures still work: they can set it up.
    expect(await memberApi.twoFactor.status()).toMatchObject({ enabled: false });
    // Members with it, and keys, carry on.
    await expect(codeOf((await admin.api()).stream.list({ team }))).resolves.toBe('ok');
    await expect(codeOf(keyApi.stream.list({ team }))).resolves.toBe('ok');

    // Once the member turns it on, the team opens.
    await enable(member);
    await expect(codeOf((await member.api()).stream.list({ team }))).resolves.toBe('ok');
  });
});
