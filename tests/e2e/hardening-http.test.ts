// Issue 9's findings 7 and 11 over real HTTP against the built server: redirects that leave the
// site, keys other than ingest keys in URLs, bodies that answered 500 or were stored as something
// else than was sent, and unbounded tRPC batches.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useWebServer, type TeamFixture } from '../helpers/context.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';
import { createUser } from '../../src/lib/server/auth/create-user.ts';
import { createSession, SESSION_COOKIE } from '../../src/lib/server/auth/sessions.ts';
import { TRPC_MAX_BATCH_SIZE } from '../../src/lib/schemas/vocabulary.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';

const { url: base, db } = useWebServer();
const PASSWORD = 'correct horse battery';

describe('redirects after signing in stay on this site', () => {
  let cookie: string;
  let email: string;
  let teamPath: string;
  beforeAll(async () => {
    email = `${uniqueSlug('redir')}@example.com`;
    const { user, team } = await createUser({ email, password: PASSWORD, db });
    teamPath = `/${team.slug}`;
    cookie = `${SESSION_COOKIE}=${(await createSession(user.id, db)).token}`;
  });

  const landing = async (query: string) => {
    const res = await fetch(`${base}/login?${query}`, { headers: { cookie, accept: 'text/html' }, redirect: 'manual' });
    return { status: res.status, location: res.headers.get('location') };
  };

  it.each([
    ['a tab that browsers drop (/%09/evil.example)', 'redirectTo=/%09/evil.example'],
    ['a newline', 'redirectTo=/%0a/evil.example'],
    ['CR LF header injection', 'redirectTo=/x%0d%0aSet-Cookie:%20a=b'],
    ['a protocol-relative URL', 'redirectTo=//evil.example'],
    ['a backslash', 'redirectTo=/%5Cevil.example'],
    ['a path that normalises to //', 'redirectTo=/.//evil.example'],
    ['another origin', 'redirectTo=https://evil.example/'],
    ['javascript:', 'redirectTo=javascript:alert(1)'],
  ])('refuses %s: the signed-in person lands on their team', async (_name, query) => {
    expect(await landing(query)).toEqual({ status: 303, location: teamPath });
  });

  it('follows a path on this site, percent-encoding what is not ASCII (was a 500)', async () => {
    expect(await landing(`redirectTo=${encodeURIComponent(`${teamPath}/streams/x?tab=1`)}`)).toEqual({ status: 303, location: `${teamPath}/streams/x?tab=1` });
    expect(await landing('redirectTo=/caf%C3%A9')).toEqual({ status: 303, location: '/caf%C3%A9' });
  });

  it('checks the form field too when logging in', async () => {
    const res = await fetch(`${base}/login`, {
      method: 'POST',
      headers: { origin: base, accept: 'text/html', 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ email, password: PASSWORD, redirectTo: '/\t/evil.example' }),
      redirect: 'manual',
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe(teamPath);
  });

  it('puts only a checked path in the signed-out page', async () => {
    const page = await (await fetch(`${base}/login?redirectTo=/%09/evil.example`)).text();
    expect(page).not.toContain('evil.example');
    expect(await (await fetch(`${base}/login?redirectTo=%2Finvite%2Fabc`)).text()).toContain('value="/invite/abc"');
  });
});

describe('public stream routes', () => {
  let team: TeamFixture;
  let rw: string;
  let ingest: string;
  let read: string;
  const streamUrl = (s: string, path = '') => `${base}/s/${team.slug}/${s}${path}`;
  const length = async (s: string) => (await (await fetch(streamUrl(s, '/length'), { headers: bearer(rw) })).json()) as number;

  beforeAll(async () => {
    team = await makeTeam(db);
    rw = await team.key(['ingest', 'read']);
    ingest = await team.key(['ingest']);
    read = await team.key(['read']);
  });

  it('accepts only ingest keys in ?key=, and only to append', async () => {
    const s = uniqueSlug('urlkey');
    expect((await postJson(streamUrl(s) + `?key=${ingest}`, { ok: 1 })).status).toBe(201);
    const readInUrl = await expectError(await fetch(streamUrl(s) + `?key=${read}`), 403, 'forbidden');
    expect(readInUrl.message).toMatch(/Only ingest keys may be sent in the URL.*`read`.*Authorization: Bearer/);
    await expectError(await postJson(streamUrl(s) + `?key=${rw}`, { no: 1 }), 403, 'forbidden');
    await expectError(await fetch(streamUrl(s, '/events') + `?key=${rw}`), 403, 'forbidden');
    const ingestRead = await expectError(await fetch(streamUrl(s, '/0') + `?key=${ingest}`), 403, 'forbidden');
    expect(ingestRead.message).toMatch(/can only append/);
    // The same keys in the header work as before.
    expect((await fetch(streamUrl(s, '/0'), { headers: bearer(read) })).status).toBe(200);
    expect(await length(s)).toBe(1);
  });

  it("sends a browser only to an http(s) _redirect, even when every origin is allowed", async () => {
    const s = uniqueSlug('anyorigin');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    await db.stream.update({ where: { id: streamIdFor(team.slug, s) }, data: { allowedOrigins: ['*'] } });
    const submit = (redirect: string) =>
      fetch(`${streamUrl(s)}?key=${ingest}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html' },
        body: new URLSearchParams({ email: 'a@b.co', _redirect: redirect }),
      });
    for (const bad of ['javascript:alert(document.cookie)', 'data:text/html,<script>alert(1)</script>', 'ftp://x.example/']) {
      const res = await submit(bad);
      expect(res.status, bad).toBe(303);
      expect(new URL(res.headers.get('location')!).pathname, bad).toBe('/thanks');
    }
    expect((await submit('https://www.customer.example/thanks')).headers.get('location')).toBe('https://www.customer.example/thanks');
  });

  it.each([
    ['a lone surrogate', '"\\ud800"', 'application/json'],
    ['a lone surrogate in a key', '{"\\udc00":1}', 'application/json'],
    ['5,000 levels of nesting', '['.repeat(5000) + ']'.repeat(5000), 'application/json'],
    ['1e400', '{"n":1e400}', 'application/json'],
    ['invalid UTF-8', Buffer.from([0x22, 0x61, 0xff, 0x22]), 'application/json'],
    ['invalid UTF-8 as text', Buffer.from([0x61, 0xc3, 0x28]), 'text/plain'],
    ['a form field that is not UTF-8', 'name=%FF', 'application/x-www-form-urlencoded'],
  ])('refuses %s with 400 and stores nothing', async (_name, body, type) => {
    const s = uniqueSlug('bad-body');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    await expectError(await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': type }, body }), 400);
    const batchBody = typeof body === 'string' && type === 'application/json' ? `[1, ${body}]` : null;
    if (batchBody) await expectError(await fetch(streamUrl(s, '/batch'), { method: 'POST', headers: { ...bearer(rw), 'content-type': type }, body: batchBody }), 400);
    expect(await length(s)).toBe(1);
  });

  it('answers a streamed body over the limit with 413, not a reset connection', async () => {
    const s = uniqueSlug('chunked');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    for (let i = 0; i < 3; i++) {
      const body = new Blob([`"${'x'.repeat(300 * 1024)}"`]).stream(); // no Content-Length: refused as it streams in
      const res = await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
      await expectError(res, 413, 'payload_too_large');
      expect((await postJson(streamUrl(s), i, bearer(rw))).status).toBe(201);
    }
    expect(await length(s)).toBe(4);
  });

  it("answers SvelteKit's own refusals under /s/ in the JSON error shape", async () => {
    const s = uniqueSlug('kit');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    await expectError(await fetch(streamUrl(s, '/%ED%A0%80'), { headers: bearer(rw) }), 400, 'bad_request');
    await expectError(await fetch(streamUrl(s, '/0/no/such/route'), { headers: bearer(rw) }), 404, 'not_found');
    const res = await fetch(streamUrl(s), { method: 'DELETE', headers: bearer(rw) });
    expect(res.headers.get('allow')).toMatch(/GET/);
    await expectError(res, 405, 'method_not_allowed');
  });

  it('stores 512 levels of nesting, and a surrogate pair, exactly', async () => {
    const s = uniqueSlug('deep-ok');
    const deep = '['.repeat(512) + ']'.repeat(512);
    expect((await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'application/json' }, body: deep })).status).toBe(201);
    expect((await postJson(streamUrl(s), '😀', bearer(rw))).status).toBe(201);
    expect(await (await fetch(streamUrl(s, '/0'), { headers: bearer(rw) })).text()).toBe(deep);
    expect(await (await fetch(streamUrl(s, '/1'), { headers: bearer(rw) })).json()).toBe('😀');
  });
});

describe('/api/trpc', () => {
  it(`answers a batch of more than ${TRPC_MAX_BATCH_SIZE} calls with 400`, async () => {
    const team = await makeTeam(db);
    const manage = await team.key(['manage']);
    const call = (n: number) => {
      const paths = Array.from({ length: n }, () => 'stream.list').join(',');
      const input = Object.fromEntries(Array.from({ length: n }, (_, i) => [i, { json: { team: team.slug } }]));
      return fetch(`${base}/api/trpc/${paths}?batch=1&input=${encodeURIComponent(JSON.stringify(input))}`, { headers: bearer(manage) });
    };
    expect((await call(TRPC_MAX_BATCH_SIZE)).status).toBe(200);
    const res = await call(TRPC_MAX_BATCH_SIZE + 1);
    expect(res.status).toBe(400);
    expect(JSON.stringify(await res.json())).toMatch(/Batch call exceeds maximum size/);
  });
});
