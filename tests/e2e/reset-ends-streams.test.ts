// A password reset ends every session of the account and what those sessions opened, against a real
// web process (LIVE_REAUTH_MS 500) and a real SMTP server: a cookie-authenticated /events tail gets
// its end and a long-poll its 401 while events keep being appended, and the browser that completed
// the reset is signed in afresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { tailSse } from '../helpers/sse.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';
import { resetLinkIn, waitForMail } from '../helpers/account-mail.ts';
import { cookieJar } from '../helpers/cookie-jar.ts';

const own = await useOwnDatabase('reset-live');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
const { streamIdFor } = await import('../../src/lib/server/streams/stream-id.ts');

const PASSWORD = 'correct horse battery';
const REAUTH_MS = 500;
let web: Running;
let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;

beforeAll(async () => {
  smtp = await startSmtpCapture();
  web = await startWeb({ ...own.env, SMTP_URL: smtp.url, LIVE_REAUTH_MS: String(REAUTH_MS), SSE_HEARTBEAT_MS: '200' });
});
afterAll(async () => {
  await web?.stop();
  await smtp?.close();
});

/** One browser's cookie jar: same-origin form posts, no redirect following. */
function browser() {
  const { jar, remember, cookie } = cookieJar();
  const headers = () => ({ cookie: cookie() });
  return {
    jar,
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
  };
}

describe('a password reset', () => {
  it('ends every session of the account and their live streams, and signs the resetting browser in', { timeout: 60_000 }, async () => {
    const email = `${uniqueSlug('ada')}@example.com`;
    const { team } = await createUser({ email, password: PASSWORD, db: db() });
    await db().stream.create({ data: { id: streamIdFor(team.slug, 'clicks'), teamId: team.id, slug: 'clicks', name: 'clicks' } });
    const ingest = (await createApiKey({ teamId: team.id, name: 'site', scopes: ['ingest'], db: db() })).key;
    const url = `${web.url}/s/${team.slug}/clicks`;
    let n = 0;
    const appending = setInterval(() => void postJson(url, { n: n++ }, bearer(ingest)).catch(() => {}), 100);

    const laptop = browser();
    expect((await laptop.post('/login', { email, password: PASSWORD })).status).toBe(303);
    const tail = tailSse(`${url}/events?from=0`, { headers: laptop.headers() });
    const longPoll = fetch(`${url}/100000?wait=30`, { headers: laptop.headers() });
    try {
      await tail.waitFor((events) => events.length >= 5);

      const stranger = browser();
      const asked = await stranger.post('/reset', { email });
      expect(asked.status).toBe(200);
      expect(await asked.text()).toContain('If an account uses this address, we sent it a link');
      const link = new URL(resetLinkIn(await waitForMail(smtp.mails, email)));
      expect((await stranger.get(link.pathname)).status).toBe(200);
      const resetAt = Date.now();
      const done = await stranger.post(link.pathname, { password: 'a much better password' });
      expect(done.status).toBe(303);
      expect(done.headers.get('location')).toBe(`/${team.slug}`);
      expect((await stranger.get(`/${team.slug}`)).status).toBe(200);

      // The laptop's tail ends within the re-auth bound, nothing after its end, while appends go on.
      const ended = () => tail.events.findIndex((e) => e.data.includes('"reason":"unauthorized"'));
      await tail.waitFor(() => ended() >= 0, 3 * REAUTH_MS + 2_000);
      console.log(`password reset → the other session's tail ended after ${Date.now() - resetAt} ms (LIVE_REAUTH_MS ${REAUTH_MS})`);
      const at = ended();
      await new Promise((r) => setTimeout(r, 1_500));
      expect(tail.events.length).toBe(at + 1);
      const answered = await Promise.race([longPoll, new Promise<null>((r) => setTimeout(() => r(null), 3_000))]);
      expect(answered?.status).toBe(401);
      expect((await laptop.get(`/${team.slug}`)).status).toBe(303);
      expect(await db().session.count({ where: { user: { email } } })).toBe(1);
    } finally {
      clearInterval(appending);
      void tail.close();
    }
  });
});
