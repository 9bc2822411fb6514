// Sessions end everything they opened, against a real web process (LIVE_REAUTH_MS 500): "log out
// everywhere" and session.end stop a cookie-authenticated /events tail and long-poll within the
// re-auth bound, while events keep being appended; the other sessions' tails go on. And the
// log-in's second step over HTTP: a session owing its two-factor code opens no page, procedure or
// stream until the code is given; a team requiring two-factor shows its members without it why.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { generateTOTP } from '@oslojs/otp';
import superjson from 'superjson';
import type { AppRouter } from '../../src/lib/server/trpc/root.ts';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { tailSse, type SseTail } from '../helpers/sse.ts';
import { cookieJar } from '../helpers/cookie-jar.ts';

const SECRETS_KEY = randomBytes(32).toString('base64');
process.env.SECRETS_KEY = SECRETS_KEY;
const own = await useOwnDatabase('sessions-live');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
const { seal } = await import('../../src/lib/server/auth/secret-box.ts');
const { streamIdFor } = await import('../../src/lib/server/streams/stream-id.ts');

const PASSWORD = 'correct horse battery';
const REAUTH_MS = 500;
let web: Running;

beforeAll(async () => {
  web = await startWeb({ ...own.env, SECRETS_KEY, LIVE_REAUTH_MS: String(REAUTH_MS), SSE_HEARTBEAT_MS: '200' });
});
afterAll(() => web?.stop());

/** One browser's cookie jar: same-origin form posts, no redirect following, tRPC with the cookie. */
function browser(userAgent: string) {
  const { jar, remember, cookie } = cookieJar();
  const headers = () => ({ cookie: cookie(), 'user-agent': userAgent });
  return {
    headers,
    get: async (path: string) => remember(await fetch(web.url + path, { headers: { ...headers(), accept: 'text/html' }, redirect: 'manual' })),
    post: async (path: string, fields: Record<string, string>) =>
      remember(
        await fetch(web.url + path, {
          method: 'POST',
          headers: { ...headers(), origin: web.url, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields),
          redirect: 'manual',
        }),
      ),
    api: () => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${web.url}/api/trpc`, transformer: superjson, headers })] }),
  };
}

/** A person with a stream in their own team, and a way to keep appending to it. */
async function personWithStream() {
  const email = `${uniqueSlug('ada')}@example.com`;
  const { user, team } = await createUser({ email, password: PASSWORD, db: db() });
  await db().stream.create({ data: { id: streamIdFor(team.slug, 'clicks'), teamId: team.id, slug: 'clicks', name: 'clicks' } });
  const ingest = (await createApiKey({ teamId: team.id, name: 'site', scopes: ['ingest'], db: db() })).key;
  const url = `${web.url}/s/${team.slug}/clicks`;
  let n = 0;
  const timer = setInterval(() => void postJson(url, { n: n++ }, bearer(ingest)).catch(() => {}), 100);
  return { user, team, email, url, stopAppending: () => clearInterval(timer) };
}

async function logIn(email: string, userAgent: string) {
  const b = browser(userAgent);
  const res = await b.post('/login', { email, password: PASSWORD });
  expect(res.status).toBe(303);
  return b;
}

const ended = (tail: SseTail) => tail.events.findIndex((e) => e.data.includes('"reason":"unauthorized"'));

/** The tail's end arrived within `ms`, and nothing was delivered after it while appends went on. */
async function expectEndedWithin(tail: SseTail, ms: number, start = Date.now()) {
  await tail.waitFor(() => ended(tail) >= 0, ms);
  const took = Date.now() - start;
  const at = ended(tail);
  await new Promise((r) => setTimeout(r, 1_500));
  expect(tail.events.length).toBe(at + 1);
  return took;
}

describe('ending a session', () => {
  it('"log out everywhere" ends its /events tails and long-polls within the re-auth bound', { timeout: 60_000 }, async () => {
    const ada = await personWithStream();
    const laptop = await logIn(ada.email, 'Laptop/1.0');
    const phone = await logIn(ada.email, 'Phone/1.0');
    const tail = tailSse(`${ada.url}/events?from=0`, { headers: laptop.headers() });
    const longPoll = fetch(`${ada.url}/100000?wait=30`, { headers: laptop.headers() });
    try {
      await tail.waitFor((events) => events.length >= 5);
      expect(tail.statuses).toEqual([]);

      const loggedOutAt = Date.now();
      const out = await phone.post('/logout?/everywhere', {});
      expect(out.headers.get('location')).toBe('/login');
      const took = await expectEndedWithin(tail, 3 * REAUTH_MS + 2_000, loggedOutAt);
      console.log(`log out everywhere → the tail ended after ${took} ms (LIVE_REAUTH_MS ${REAUTH_MS})`);
      const answered = await Promise.race([longPoll, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
      expect(answered?.status).toBe(401);
      expect((await answered!.json()).error.message).toMatch(/revoked while waiting/);
      // And the cookie opens nothing any more.
      expect((await fetch(`${ada.url}/events`, { headers: laptop.headers() })).status).toBe(401);
      // The team's audit log says so: who, from where, how many sessions and why.
      const log = await db().event.findMany({ where: { streamId: streamIdFor(ada.team.slug, '_audit') }, orderBy: { index: 'asc' } });
      expect(log.map((e) => e.body)).toContainEqual(
        expect.objectContaining({ action: 'session.ended', actor: expect.objectContaining({ email: ada.email }), address: expect.any(String), target: { userId: ada.user.id, count: 2, reason: 'log out everywhere' } }),
      );
    } finally {
      ada.stopAppending();
      // Not awaited: after the end event the reader sleeps out the server's `retry: 60000` before it would look again.
      void tail.close();
    }
  });

  it('session.end ends that session’s tail only; the caller’s own goes on', { timeout: 60_000 }, async () => {
    const ada = await personWithStream();
    const laptop = await logIn(ada.email, 'Laptop/1.0');
    const phone = await logIn(ada.email, 'Phone/1.0');
    const laptopTail = tailSse(`${ada.url}/events?from=0`, { headers: laptop.headers() });
    const phoneTail = tailSse(`${ada.url}/events?from=0`, { headers: phone.headers() });
    try {
      await Promise.all([laptopTail.waitFor((e) => e.length >= 3), phoneTail.waitFor((e) => e.length >= 3)]);
      const api = laptop.api();
      const list = await api.session.list.query();
      expect(list.map((s) => [s.userAgent, s.current]).sort()).toEqual([
        ['Laptop/1.0', true],
        ['Phone/1.0', false],
      ]);
      expect(list.every((s) => s.address === '127.0.0.1')).toBe(true);
      await api.session.end.mutate({ id: list.find((s) => !s.current)!.id });

      await expectEndedWithin(phoneTail, 3 * REAUTH_MS + 2_000);
      // The laptop's session and tail are untouched.
      const before = laptopTail.events.length;
      await laptopTail.waitFor((e) => e.length >= before + 5);
      expect(ended(laptopTail)).toBe(-1);
      expect((await api.session.list.query()).map((s) => s.userAgent)).toEqual(['Laptop/1.0']);
    } finally {
      ada.stopAppending();
      void laptopTail.close();
      void phoneTail.close();
    }
  });
});

describe('logging in with two-factor over HTTP', () => {
  it('opens nothing until the code is given on the second step', async () => {
    const ada = await personWithStream();
    ada.stopAppending();
    const key = crypto.getRandomValues(new Uint8Array(20));
    await db().user.update({ where: { id: ada.user.id }, data: { totpKey: seal(key) } });
    const b = browser('Laptop/1.0');
    const teamPath = `/${ada.team.slug}`;

    const step1 = await b.post(`/login?redirectTo=${encodeURIComponent(teamPath)}`, { email: ada.email, password: PASSWORD, redirectTo: teamPath });
    expect(step1.status).toBe(303);
    expect(step1.headers.get('location')).toBe(`/login/two-factor?redirectTo=${encodeURIComponent(teamPath)}`);
    // The half-signed-in session: pages send it back to the second step, the API and streams refuse it.
    expect((await b.get(teamPath)).headers.get('location')).toBe(`/login?redirectTo=${encodeURIComponent(teamPath)}`);
    expect((await b.get(`/login?redirectTo=${encodeURIComponent(teamPath)}`)).headers.get('location')).toBe(`/login/two-factor?redirectTo=${encodeURIComponent(teamPath)}`);
    expect((await b.get('/account')).status).toBe(303);
    await expect(b.api().stream.list.query({ team: ada.team.slug })).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    await expect(b.api().session.list.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED' } });
    expect((await fetch(`${ada.url}/events`, { headers: b.headers() })).status).toBe(401);
    const page = await b.get(`/login/two-factor?redirectTo=${encodeURIComponent(teamPath)}`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Authentication code');

    const wrong = await b.post('/login/two-factor', { code: '000000', redirectTo: teamPath });
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('That code is not right');
    const right = await b.post('/login/two-factor', { code: generateTOTP(key, 30, 6), redirectTo: teamPath });
    expect(right.status).toBe(303);
    expect(right.headers.get('location')).toBe(teamPath);
    expect((await b.get(teamPath)).status).toBe(200);
    expect(await b.api().stream.list.query({ team: ada.team.slug })).toHaveLength(1);
    expect((await b.api().session.list.query())[0]).toMatchObject({ current: true, twoFactorVerified: true, userAgent: 'Laptop/1.0' });
  });

  it("shows a team's members without two-factor why they are refused, and where to turn it on", async () => {
    const owner = await personWithStream();
    owner.stopAppending();
    const member = await personWithStream();
    member.stopAppending();
    await db().membership.create({ data: { teamId: owner.team.id, userId: member.user.id, role: 'member' } });
    await db().team.update({ where: { id: owner.team.id }, data: { requireTwoFactor: true } });
    const b = await logIn(member.email, 'Laptop/1.0');
    const page = await b.get(`/${owner.team.slug}`);
    expect(page.status).toBe(403);
    const html = await page.text();
    expect(html).toContain('requires two-factor authentication');
    expect(html).toContain(`/account?required=${owner.team.slug}`);
    // Their own team and account page still open.
    expect((await b.get(`/${member.team.slug}`)).status).toBe(200);
    const account = await b.get(`/account?required=${owner.team.slug}`);
    expect(account.status).toBe(200);
    expect(await account.text()).toContain('requires two-factor authentication');
    // Its private streams refuse the member's cookie, saying why.
    const read = await fetch(`${owner.url}/events`, { headers: b.headers() });
    expect(read.status).toBe(403);
    expect((await read.json()).error.message).toMatch(/requires two-factor/);
  });
});
