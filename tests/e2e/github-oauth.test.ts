// Sign in with GitHub against a stub authorization server on loopback (GITHUB_OAUTH_URL and
// GITHUB_API_URL point a real web process at it): new accounts, existing ones never linked
// silently, linking from a signed-in session, two-factor still asked, a foreign state refused,
// and, without credentials, no button and no routes. One short run in chromium clicks the button.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { hashPassword } from '../../src/lib/server/auth/passwords.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';
import { cookieJar } from '../helpers/cookie-jar.ts';

const own = await useOwnDatabase('github');
const { db } = await import('../../src/lib/server/db/client.ts');

const CLIENT_ID = 'Iv1.pipet-test';
const CLIENT_SECRET = 'stub-secret-' + randomBytes(8).toString('hex');
const PASSWORD = 'correct horse battery';

type GithubAccount = { id: number; login: string; name?: string; emails: { email: string; primary: boolean; verified: boolean }[] };

/**
 * GitHub's side of OAuth, as far as Pipet uses it: /login/oauth/authorize signs in as whoever
 * `signInAs` named (no consent screen) and redirects back with a code and the state; the code works
 * once, for this client and redirect URI; the token reads /user and /user/emails.
 */
async function startGithubStub() {
  let next: GithubAccount | null = null;
  const codes = new Map<string, { account: GithubAccount; redirectUri: string }>();
  const tokens = new Map<string, GithubAccount>();
  const issued: string[] = [];
  const body = (req: IncomingMessage) => new Promise<string>((res) => {
    let text = '';
    req.on('data', (d) => (text += d));
    req.on('end', () => res(text));
  });
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url!, 'http://stub');
    const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const redirectUri = url.searchParams.get('redirect_uri')!;
      if (url.searchParams.get('client_id') !== CLIENT_ID || !next) return void res.writeHead(400).end('unknown client, or nobody to sign in as');
      expect(url.searchParams.get('scope')).toBe('user:email');
      const code = randomBytes(10).toString('hex');
      codes.set(code, { account: next, redirectUri });
      const back = new URL(redirectUri);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state')!);
      return void res.writeHead(302, { location: back.toString() }).end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const form = new URLSearchParams(await body(req));
      const basic = Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64');
      const grant = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      // GitHub answers a bad code with 200 and an error field.
      if (req.headers.authorization !== `Basic ${basic}`) return json(200, { error: 'incorrect_client_credentials' });
      if (!grant || grant.redirectUri !== form.get('redirect_uri')) return json(200, { error: 'bad_verification_code' });
      const token = `gho_${randomBytes(18).toString('hex')}`;
      tokens.set(token, grant.account);
      issued.push(token);
      return json(200, { access_token: token, token_type: 'bearer', scope: 'user:email' });
    }
    const account = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!account) return json(401, { message: 'Bad credentials' });
    if (url.pathname === '/user') return json(200, { id: account.id, login: account.login, name: account.name ?? null });
    if (url.pathname === '/user/emails') return json(200, account.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
    json(404, { message: 'Not Found' });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    issued,
    signInAs(account: GithubAccount) {
      next = account;
    },
    close: () => new Promise<void>((res) => server.close(() => res())),
  };
}

/** A browser's worth of state over fetch: a cookie jar, no redirect following. */
function browser(base: string) {
  const { jar, remember, cookie } = cookieJar();
  const get = async (path: string) => remember(await fetch(new URL(path, base), { headers: { cookie: cookie(), accept: 'text/html' }, redirect: 'manual' }));
  return {
    jar,
    get,
    post: async (path: string, fields: Record<string, string>) =>
      remember(
        await fetch(base + path, {
          method: 'POST',
          headers: { cookie: cookie(), origin: base, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields),
          redirect: 'manual',
        }),
      ),
    /** "Continue with GitHub" (or Link GitHub) through the stub: the callback's answer, and the stub's authorize URL. */
    async viaGithub(start = '/login/github') {
      const started = await get(start);
      expect(started.status).toBe(302);
      const authorize = started.headers.get('location')!;
      const back = await fetch(authorize, { redirect: 'manual' });
      expect(back.status).toBe(302);
      const callback = new URL(back.headers.get('location')!);
      expect(callback.origin + callback.pathname).toBe(`${base}/login/github/callback`);
      return { started, callback, res: await get(callback.pathname + callback.search) };
    },
  };
}

let stub: Awaited<ReturnType<typeof startGithubStub>>;
let web: Running;
let plain: Running;
beforeAll(async () => {
  stub = await startGithubStub();
  [web, plain] = await Promise.all([
    startWeb({ ...own.env, GITHUB_CLIENT_ID: CLIENT_ID, GITHUB_CLIENT_SECRET: CLIENT_SECRET, GITHUB_OAUTH_URL: stub.url, GITHUB_API_URL: stub.url }),
    startWeb({ ...own.env, GITHUB_CLIENT_ID: '', GITHUB_CLIENT_SECRET: '' }),
  ]);
});
afterAll(async () => {
  await Promise.all([web?.stop(), plain?.stop()]);
  await stub?.close();
});

let nextId = 1000;
function githubAccount(login: string, emails: GithubAccount['emails']): GithubAccount {
  return { id: nextId++, login, name: `${login} Lovelace`, emails };
}

async function passwordAccount(email: string, verified: boolean) {
  return db().user.create({ data: { email, passwordHash: await hashPassword(PASSWORD), emailVerifiedAt: verified ? new Date() : null }, select: { id: true } });
}

describe('sign in with GitHub', () => {
  it('without GitHub credentials: no button on log-in or sign-up, and /login/github is 404', async () => {
    for (const path of ['/login', '/signup']) {
      const res = await fetch(plain.url + path);
      expect(res.status).toBe(200);
      expect(await res.text()).not.toContain('Continue with GitHub');
      // With credentials, the same page offers it.
      expect(await (await fetch(web.url + path)).text()).toContain('Continue with GitHub');
    }
    expect((await fetch(`${plain.url}/login/github`, { redirect: 'manual' })).status).toBe(404);
    expect((await fetch(`${plain.url}/login/github/callback?code=x&state=y`, { redirect: 'manual' })).status).toBe(404);
  });

  it('creates an account for a new GitHub user (verified primary address, personal team) and signs it in; signing in again finds it', async () => {
    const login = uniqueSlug('ada');
    const primary = `${login}@Example.com`;
    const account = githubAccount(login, [
      { email: `${login}@old.example`, primary: false, verified: false },
      { email: primary, primary: true, verified: true },
    ]);
    stub.signInAs(account);
    const ada = browser(web.url);
    const { started, res } = await ada.viaGithub();
    const state = started.headers.getSetCookie().find((c) => c.startsWith('github_oauth_state='))!;
    expect(state).toMatch(/HttpOnly/i);
    expect(state).toMatch(/SameSite=Lax/i);
    expect(res.status).toBe(303);
    const teamPath = res.headers.get('location')!;
    expect(teamPath).toBe(`/${login}`);
    expect(ada.jar.has('pipet_session')).toBe(true);
    expect(ada.jar.has('github_oauth_state')).toBe(false);

    const user = await db().user.findUniqueOrThrow({ where: { githubId: String(account.id) }, include: { memberships: { include: { team: true } } } });
    expect(user.email).toBe(primary.toLowerCase());
    expect(user.emailVerifiedAt).not.toBeNull();
    expect(user.passwordHash).toBeNull();
    expect(user.memberships).toMatchObject([{ role: 'owner', team: { slug: login, personal: true, accountId: user.id } }]);
    // The session cookie works on the app's pages.
    const home = await ada.get(teamPath);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('No streams yet');

    // Again, from another browser: the same account, no second one.
    const again = await browser(web.url).viaGithub();
    expect(again.res.status).toBe(303);
    expect(again.res.headers.get('location')).toBe(teamPath);
    expect(await db().user.count({ where: { email: { contains: login } } })).toBe(1);
  });

  it('does not link GitHub to an existing verified account: it says to log in with the password, and signs nobody in', async () => {
    const email = `${uniqueSlug('grace')}@example.com`;
    const existing = await passwordAccount(email, true);
    stub.signInAs(githubAccount(uniqueSlug('grace'), [{ email, primary: true, verified: true }]));
    const stranger = browser(web.url);
    const { res } = await stranger.viaGithub();
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('data-outcome="exists"');
    expect(page).toContain(`An account with <strong>${email}</strong> already exists`);
    expect(page).toContain(`/login?email=${encodeURIComponent(email)}`);
    expect(stranger.jar.has('pipet_session')).toBe(false);
    expect(await db().user.findUniqueOrThrow({ where: { id: existing.id } })).toMatchObject({ githubId: null });
    expect(await db().session.count({ where: { userId: existing.id } })).toBe(0);
    expect(await db().user.count({ where: { email } })).toBe(1);
  });

  it('links GitHub from a signed-in session (only a GitHub account that verified the address), after which GitHub signs in to that account', async () => {
    const email = `${uniqueSlug('linus')}@example.com`;
    const existing = await passwordAccount(email, false);
    const team = uniqueSlug('linus');
    await db().team.create({ data: { slug: team, name: team, personal: true, accountId: existing.id, signingSecret: 'whsec_x', members: { create: { userId: existing.id, role: 'owner' } } } });

    // Signed out, ?link=1 sends to log in first.
    const signedOut = await fetch(`${web.url}/login/github?link=1`, { redirect: 'manual' });
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get('location')).toBe('/login?redirectTo=%2Faccount');

    const linus = browser(web.url);
    expect((await linus.post('/login', { email, password: PASSWORD })).status).toBe(303);
    // A GitHub account that has not verified this address is refused.
    stub.signInAs(githubAccount(uniqueSlug('other'), [{ email, primary: true, verified: false }, { email: 'other@example.com', primary: false, verified: true }]));
    const refused = await linus.viaGithub('/login/github?link=1');
    expect(refused.res.status).toBe(200);
    expect(await refused.res.text()).toContain('data-outcome="email-mismatch"');
    expect((await db().user.findUniqueOrThrow({ where: { id: existing.id } })).githubId).toBeNull();

    const github = githubAccount(uniqueSlug('linus'), [{ email: `${email.split('@')[0]}@work.example`, primary: true, verified: true }, { email, primary: false, verified: true }]);
    stub.signInAs(github);
    const linked = await linus.viaGithub('/login/github?link=1');
    expect(linked.res.status).toBe(303);
    expect(linked.res.headers.get('location')).toBe('/account?github=linked');
    const row = await db().user.findUniqueOrThrow({ where: { id: existing.id } });
    expect(row.githubId).toBe(String(github.id));
    // GitHub verified the address, so it counts as verified.
    expect(row.emailVerifiedAt).not.toBeNull();

    // From a fresh browser, GitHub now signs in to the linked account.
    const fresh = browser(web.url);
    const { res } = await fresh.viaGithub();
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(`/${team}`);
    expect((await fresh.get(`/${team}`)).status).toBe(200);
    expect(await db().user.count({ where: { githubId: String(github.id) } })).toBe(1);
  });

  it('refuses to link an existing account whose address was never verified (it could be a squatter) and offers the password', async () => {
    const email = `${uniqueSlug('squat')}@example.com`;
    const squatter = await passwordAccount(email, false);
    stub.signInAs(githubAccount(uniqueSlug('real'), [{ email, primary: true, verified: true }]));
    const owner = browser(web.url);
    const { res } = await owner.viaGithub();
    expect(res.status).toBe(200);
    const page = await res.text();
    expect(page).toContain('data-outcome="unverified"');
    expect(page).toContain('never verified');
    expect(page).toContain(`/login?email=${encodeURIComponent(email)}`);
    expect(owner.jar.has('pipet_session')).toBe(false);
    expect(await db().user.findUniqueOrThrow({ where: { id: squatter.id } })).toMatchObject({ githubId: null, emailVerifiedAt: null });
    expect(await db().user.count({ where: { email } })).toBe(1);
  });

  it('refuses a GitHub account with no verified address', async () => {
    const login = uniqueSlug('noemail');
    stub.signInAs(githubAccount(login, [{ email: `${login}@example.com`, primary: true, verified: false }]));
    const someone = browser(web.url);
    const { res } = await someone.viaGithub();
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('GitHub has no verified email address');
    expect(someone.jar.has('pipet_session')).toBe(false);
    expect(await db().user.count({ where: { email: { contains: login } } })).toBe(0);
  });

  it('refuses a callback whose state is not the one in this browser’s cookie (400), and a replayed callback', async () => {
    const login = uniqueSlug('mallory');
    stub.signInAs(githubAccount(login, [{ email: `${login}@example.com`, primary: true, verified: true }]));
    // An attacker's own authorization, delivered to a victim's browser (log-in CSRF): no cookie to match.
    const attacker = browser(web.url);
    const started = await attacker.get('/login/github');
    const back = await fetch(started.headers.get('location')!, { redirect: 'manual' });
    const callback = new URL(back.headers.get('location')!);
    const victim = browser(web.url);
    await victim.get('/login/github'); // the victim's own state cookie, a different state
    const forged = await victim.get(callback.pathname + callback.search);
    expect(forged.status).toBe(400);
    expect(await forged.text()).toContain('was not started from this browser');
    expect(victim.jar.has('pipet_session')).toBe(false);
    expect(await db().user.count({ where: { email: { contains: login } } })).toBe(0);

    // The attacker's own browser completes it once; the same callback again is refused.
    const done = await attacker.get(callback.pathname + callback.search);
    expect(done.status).toBe(303);
    const replay = await attacker.get(callback.pathname + callback.search);
    expect(replay.status).toBe(400);
  });

  it('asks a linked account with two-factor on for its code, as the password log-in does', async () => {
    const email = `${uniqueSlug('totp')}@example.com`;
    const github = githubAccount(uniqueSlug('totp'), [{ email, primary: true, verified: true }]);
    // Any sealed key marks two-factor on; the session must then give the code before it signs in.
    await db().user.create({ data: { email, emailVerifiedAt: new Date(), githubId: String(github.id), totpKey: new Uint8Array(48) } });
    stub.signInAs(github);
    const person = browser(web.url);
    const { res } = await person.viaGithub('/login/github?redirectTo=%2Faccount');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login/two-factor?redirectTo=%2Faccount');
    const account = await person.get('/account');
    expect(account.status).toBe(303);
    expect(account.headers.get('location')).toMatch(/^\/login/);
  });

  it('never writes an access token to the server’s output', () => {
    expect(stub.issued.length).toBeGreaterThan(3);
    for (const token of stub.issued) expect(web.output()).not.toContain(token);
  });

  it('in a browser: "Continue with GitHub" on the log-in page lands signed in on the new team', { timeout: 60_000 }, async () => {
    const login = uniqueSlug('hopper');
    stub.signInAs(githubAccount(login, [{ email: `${login}@example.com`, primary: true, verified: true }]));
    const chromium = await launch();
    try {
      const page = await chromium.newPage({ viewport: { width: 375, height: 800 } });
      const errors = watchErrors(page);
      await page.goto(`${web.url}/login`, { waitUntil: 'networkidle' });
      await shoot(page, 'github-oauth-login');
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.waitForTimeout(300); // the buttons' colour transition
      await shoot(page, 'github-oauth-login-dark');
      // The button fits a phone's width.
      const button = (await page.getByRole('link', { name: 'Continue with GitHub' }).boundingBox())!;
      expect(button.x + button.width).toBeLessThanOrEqual(375);
      await page.getByRole('link', { name: 'Continue with GitHub' }).click();
      await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor({ timeout: 20_000 });
      expect(new URL(page.url()).pathname).toBe(`/${login}`);
      await shoot(page, 'github-oauth-signed-in');

      // An existing verified account: the page that says to log in with the password.
      const email = `${uniqueSlug('ada')}@example.com`;
      await passwordAccount(email, true);
      stub.signInAs(githubAccount(uniqueSlug('ada'), [{ email, primary: true, verified: true }]));
      const other = await chromium.newPage({ viewport: { width: 375, height: 800 }, colorScheme: 'dark' });
      errors.push(...watchErrors(other));
      await other.goto(`${web.url}/login/github`);
      await other.getByRole('heading', { name: 'Log in to link GitHub' }).waitFor();
      await shoot(other, 'github-oauth-exists-dark');
      await other.getByRole('link', { name: 'Log in with your password' }).click();
      await other.getByLabel('Email').waitFor();
      expect(await other.getByLabel('Email').inputValue()).toBe(email);
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
  });
});
