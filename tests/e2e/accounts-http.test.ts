// The "done when" of accounts over real HTTP against the built server: sign up through the form
// action, land in the team, create a stream and keys through /api/trpc, invite a teammate who signs
// up from the link, accepts on the invite page and sees the stream.
import { describe, expect, it } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../src/lib/server/trpc/root.ts';
import { uniqueSlug, useWebServer } from '../helpers/context.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { cookieJar } from '../helpers/cookie-jar.ts';

const { url: base, db } = useWebServer();
const PASSWORD = 'correct horse battery';

/** A browser's worth of state: one cookie jar, same-origin form posts, no redirect following. */
function browser() {
  const { jar, remember, cookie } = cookieJar();
  return {
    jar,
    get: async (path: string) => remember(await fetch(base + path, { headers: { cookie: cookie(), accept: 'text/html' }, redirect: 'manual' })),
    post: async (path: string, fields: Record<string, string>, origin = base) =>
      remember(
        await fetch(base + path, {
          method: 'POST',
          headers: { cookie: cookie(), origin, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields),
          redirect: 'manual',
        }),
      ),
    api: (headers: Record<string, string> = {}) =>
      createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${base}/api/trpc`, transformer: superjson, headers: () => ({ cookie: cookie(), ...headers }) })] }),
  };
}

describe('accounts over HTTP', () => {
  it('sign up → team → stream and key → invite → teammate signs up from the link, accepts and sees the stream', async () => {
    const ada = browser();
    const adaEmail = `${uniqueSlug('ada')}@example.com`;
    expect((await ada.get('/signup')).status).toBe(200);
    const signedUp = await ada.post('/signup', { email: adaEmail, password: PASSWORD });
    expect(signedUp.status).toBe(303);
    const setCookie = signedUp.headers.getSetCookie().find((c) => c.startsWith('pipet_session='))!;
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    expect(setCookie).not.toMatch(/Secure/i); // NODE_ENV=test over http; `secure` in production
    const teamPath = signedUp.headers.get('location')!;
    const team = teamPath.slice(1);
    const user = await db.user.findUniqueOrThrow({ where: { email: adaEmail }, include: { sessions: true, memberships: { include: { team: true } } } });
    expect(user.memberships).toMatchObject([{ role: 'owner', team: { slug: team, personal: true } }]);
    expect(user.sessions[0].id).not.toBe(ada.jar.get('pipet_session'));

    const home = await ada.get(teamPath);
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('No streams yet');
    expect((await ada.get('/')).headers.get('location')).toBe(teamPath);

    // Changes go through the management API, with the session cookie.
    const api = ada.api();
    await api.stream.create.mutate({ team, stream: 'signups' });
    const ingest = await api.apiKey.create.mutate({ team, name: 'site', scopes: ['ingest'], stream: 'signups' });
    const manage = await api.apiKey.create.mutate({ team, name: 'script', scopes: ['manage'] });
    expect((await postJson(`${base}/s/${team}/signups`, { type: 'signup' }, bearer(ingest.key))).status).toBe(201);
    expect(await (await ada.get(teamPath)).text()).toContain(`/s/${team}/signups`);

    // A script with the manage key, no cookie.
    const script = browser().api(bearer(manage.key));
    expect((await script.stream.list.query({ team })).map((s) => [s.slug, s.length])).toEqual([['signups', 1]]);
    // The README's curl form: superjson's `{"json": …}` envelope, no batching.
    const listed = await fetch(`${base}/api/trpc/stream.list?input=${encodeURIComponent(JSON.stringify({ json: { team } }))}`, { headers: bearer(manage.key) });
    expect((await listed.json()).result.data.json.map((s: { slug: string }) => s.slug)).toEqual(['signups']);
    const created = await postJson(`${base}/api/trpc/stream.create`, { json: { team, stream: 'orders', publicWrite: true } }, bearer(manage.key));
    expect((await created.json()).result.data.json).toMatchObject({ slug: 'orders', publicWrite: true });
    await script.stream.delete.mutate({ team, stream: 'orders', confirm: 'orders' });

    const bobEmail = `${uniqueSlug('bob')}@example.com`;
    const invite = await api.invite.create.mutate({ team, email: bobEmail, role: 'member' });
    const invitePath = new URL(invite.url).pathname;
    expect(invite.url).toBe(`${base}${invitePath}`);
    expect((await db.emailMessage.findFirstOrThrow({ where: { to: bobEmail, teamId: user.memberships[0].teamId } })).text).toContain(invite.url);

    // Bob opens the link signed out: the page leads through sign-up and back.
    const bob = browser();
    const page = await (await bob.get(invitePath)).text();
    expect(page).toContain(`/signup?redirectTo=${encodeURIComponent(invitePath)}`);
    expect(page).toContain(`/login?redirectTo=${encodeURIComponent(invitePath)}`);
    const bobSignup = await bob.post(`/signup?redirectTo=${encodeURIComponent(invitePath)}`, { email: bobEmail, password: PASSWORD, redirectTo: invitePath });
    expect(bobSignup.status).toBe(303);
    expect(bobSignup.headers.get('location')).toBe(invitePath);
    // Accepting needs the address verified (the code's own flow: account-recovery-browser.test.ts).
    expect(await (await bob.get(invitePath)).text()).toContain(`/verify?redirectTo=${encodeURIComponent(invitePath)}`);
    await db.user.update({ where: { email: bobEmail }, data: { emailVerifiedAt: new Date() } });
    expect(await (await bob.get(invitePath)).text()).toContain(`Accept as ${bobEmail}`);
    const accepted = await bob.post(`${invitePath}?/accept`, {});
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('location')).toBe(teamPath);
    expect((await bob.get(teamPath)).status).toBe(200);
    expect((await bob.api().stream.list.query({ team })).map((s) => s.slug)).toEqual(['signups']);
    // Used once.
    expect(await (await bob.get(invitePath)).text()).toContain('no longer valid');

    // Revoking the manage key stops the script on its next request.
    await api.apiKey.revoke.mutate({ team, id: manage.id });
    await expect(script.stream.list.query({ team })).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
  });

  it('logs in and out, without telling which emails have accounts', async () => {
    const email = `${uniqueSlug('eve')}@example.com`;
    const first = browser();
    await first.post('/signup', { email, password: PASSWORD });
    const second = browser();

    const wrong = await second.post('/login', { email, password: 'not the password' });
    const unknown = await second.post('/login', { email: `${uniqueSlug('nobody')}@example.com`, password: 'not the password' });
    expect([wrong.status, unknown.status]).toEqual([401, 401]);
    for (const res of [wrong, unknown]) expect(await res.text()).toContain('Incorrect email or password.');
    expect(second.jar.has('pipet_session')).toBe(false);

    const loggedIn = await second.post('/login', { email, password: PASSWORD });
    expect(loggedIn.status).toBe(303);
    const teamPath = loggedIn.headers.get('location')!;
    expect((await second.get(teamPath)).status).toBe(200);
    expect((await browser().get(teamPath)).headers.get('location')).toBe(`/login?redirectTo=${encodeURIComponent(teamPath)}`);

    // Another site cannot post our forms.
    expect((await second.post('/login', { email, password: PASSWORD }, 'https://evil.example')).status).toBe(403);

    // Log out here: only this browser's session ends.
    const firstCookie = first.jar.get('pipet_session');
    expect((await second.post('/logout?/here', {})).headers.get('location')).toBe('/login');
    expect(second.jar.has('pipet_session')).toBe(false);
    expect((await first.get(teamPath)).status).toBe(200);

    // Log out everywhere: every session of the account ends.
    const third = browser();
    await third.post('/login', { email, password: PASSWORD });
    expect((await third.get(teamPath)).status).toBe(200);
    await first.post('/logout?/everywhere', {});
    expect((await third.get(teamPath)).status).toBe(303);
    const replay = browser();
    replay.jar.set('pipet_session', firstCookie!);
    expect((await replay.get(teamPath)).status).toBe(303);
  });

  it('shows sign-up errors on the form and hides teams from non-members', async () => {
    const p = browser();
    const bad = await p.post('/signup', { email: 'not-an-email', password: 'short' });
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('Enter a valid email address.');
    await p.post('/signup', { email: `${uniqueSlug('mallory')}@example.com`, password: PASSWORD });
    expect((await p.get(`/${uniqueSlug('nope')}`)).status).toBe(404);
  });
});

describe('a signed-in member on the public stream routes', () => {
  it('reads and appends with the session cookie; a non-member cannot', async () => {
    const ada = browser();
    const signedUp = await ada.post('/signup', { email: `${uniqueSlug('cookie')}@example.com`, password: PASSWORD });
    const team = signedUp.headers.get('location')!.slice(1);
    await ada.api().stream.create.mutate({ team, stream: 'notes' });
    const cookie = `pipet_session=${ada.jar.get('pipet_session')}`;
    // Writes on the cookie come from the app's own pages (csrf.ts), which send their Origin.
    const appended = await postJson(`${base}/s/${team}/notes`, { note: 'hi' }, { cookie, origin: base });
    expect(appended.status).toBe(201);
    expect(await (await fetch(`${base}/s/${team}/notes/0`, { headers: { cookie } })).json()).toEqual({ note: 'hi' });

    const bob = browser();
    await bob.post('/signup', { email: `${uniqueSlug('outsider')}@example.com`, password: PASSWORD });
    const outsider = `pipet_session=${bob.jar.get('pipet_session')}`;
    expect((await fetch(`${base}/s/${team}/notes/0`, { headers: { cookie: outsider } })).status).toBe(401);
    expect((await postJson(`${base}/s/${team}/notes`, { note: 'x' }, { cookie: outsider, origin: base })).status).toBe(401);
  });
});
