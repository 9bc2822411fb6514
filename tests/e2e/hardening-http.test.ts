// Issue 9's findings 7 and 11 and issue 23's web-layer findings over real HTTP against the built
// server: redirects that leave the site, keys other than ingest keys in URLs, bodies and inputs
// that answered 500 or were stored as something else than was sent, unbounded tRPC batches,
// cookie writes from other origins, and the headers that keep pages from being framed.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeStream, makeTeam, uniqueSlug, useWebServer, type TeamFixture } from '../helpers/context.ts';
import { createApiKey } from '../../src/lib/server/auth/api-keys.ts';
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
    ['1e-400, which would be stored as 0', '{"n":1e-400}', 'application/json'],
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

describe('writes on the session cookie come from the app’s own origin', () => {
  let cookie: string;
  let teamSlug: string;
  const port = () => new URL(base).port;
  const strangers = () => [`http://evil.localhost:${port()}`, `http://127.0.0.1:${Number(port()) + 1}`, `http://localhost:${port()}`];
  const lengthOf = async (slug: string) => (await db.stream.findUniqueOrThrow({ where: { id: streamIdFor(teamSlug, slug) }, select: { length: true } })).length;
  const submit = (slug: string, headers: Record<string, string>, query = '') =>
    fetch(`${base}/s/${teamSlug}/${slug}${query}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({ email: 'victim@example.com' }),
    });

  beforeAll(async () => {
    const { user, team } = await createUser({ email: `${uniqueSlug('csrf')}@example.com`, password: PASSWORD, db });
    teamSlug = team.slug;
    cookie = `${SESSION_COOKIE}=${(await createSession(user.id, db)).token}`;
  });

  it('refuses a same-site form from another origin on a private stream with 403, appending nothing; from the app it works', async () => {
    const slug = uniqueSlug('private');
    await makeStream(db, { teamId: (await db.team.findUniqueOrThrow({ where: { slug: teamSlug } })).id, slug, name: slug });
    for (const origin of [...strangers(), null]) {
      const refused = await expectError(await submit(slug, origin ? { origin, accept: 'text/html' } : {}), 403, 'forbidden');
      expect(refused.message, String(origin)).toMatch(/session cookie must come from this site’s own pages/);
    }
    expect(await lengthOf(slug)).toBe(0);
    const own = await submit(slug, { origin: base, accept: 'application/json' });
    expect(own.status).toBe(201);
    const del = await fetch(`${base}/s/${teamSlug}/${slug}/state/nope/k`, { method: 'DELETE', headers: { cookie, origin: strangers()[0] } });
    await expectError(del, 403, 'forbidden');
    expect(await lengthOf(slug)).toBe(1);
  });

  it('leaves keys and public streams as they were: a public form from an allowed origin still posts', async () => {
    const teamId = (await db.team.findUniqueOrThrow({ where: { slug: teamSlug } })).id;
    const [evil] = strangers();
    const open = uniqueSlug('public');
    await makeStream(db, { teamId, slug: open, name: open, publicWrite: true, allowedOrigins: [evil] });
    const res = await submit(open, { origin: evil, accept: 'text/html' });
    expect(res.status).toBe(303);
    expect(await lengthOf(open)).toBe(1);
    const keyed = uniqueSlug('keyed');
    await makeStream(db, { teamId, slug: keyed, name: keyed });
    const ingest = (await createApiKey({ teamId, name: 'form', scopes: ['ingest'], streamId: streamIdFor(teamSlug, keyed), db })).key;
    expect((await submit(keyed, { origin: evil, accept: 'application/json' }, `?key=${ingest}`)).status).toBe(201);
    expect(await lengthOf(keyed)).toBe(1);
  });
});

describe('app pages', () => {
  it('may not be framed, run only their own scripts, and send a strict referrer and nosniff', async () => {
    const res = await fetch(`${base}/login`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("object-src 'none'");
    const nonce = /script-src 'self' 'nonce-([^']+)'/.exec(csp)?.[1];
    expect(nonce, csp).toBeTruthy();
    // Kit's inline start-up script carries the nonce, so the page still runs.
    expect(await res.text()).toContain(`<script nonce="${nonce}"`);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    // A fresh nonce per page.
    expect((await fetch(`${base}/login`)).headers.get('content-security-policy')).not.toContain(nonce);
  });
});

describe('bad input outside /s/ and /v1/: 400, never a 500, never a silent change', () => {
  let team: TeamFixture;
  let manage: string;
  let cookie: string;
  let stream: string;
  beforeAll(async () => {
    team = await makeTeam(db);
    manage = await team.key(['manage']);
    const { user } = await createUser({ email: `${uniqueSlug('bad-input')}@example.com`, password: PASSWORD, db });
    cookie = `${SESSION_COOKIE}=${(await createSession(user.id, db)).token}`;
    stream = uniqueSlug('s');
    await makeStream(db, { teamId: team.id, slug: stream, name: stream });
  });

  /** A tRPC mutation with `json` as raw JSON text (so it can hold what JSON.stringify never writes). */
  const mutate = (path: string, json: string, auth: Record<string, string> = bearer(manage)) =>
    fetch(`${base}/api/trpc/${path}`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: `{"json":${json}}` });
  const expectBadRequest = async (res: Response, message: RegExp) => {
    const text = await res.text();
    expect(res.status, text).toBe(400);
    expect(text).toMatch(message);
  };

  it.each([
    ['a NUL in a team name (team.create)', 'team.create', `{"slug":"${uniqueSlug('t')}","name":"a\\u0000b"}`, 'cookie'],
    ['a NUL in a team name (team.rename)', 'team.rename', '{"team":"$team","name":"a\\u0000b"}', 'key'],
    ['a lone surrogate in a team name (team.rename), which was stored as U+FFFD', 'team.rename', '{"team":"$team","name":"\\ud800"}', 'key'],
    ['a NUL in a stream name', 'stream.update', '{"team":"$team","stream":"$stream","name":"x\\u0000"}', 'key'],
    ['a NUL in a key name', 'apiKey.create', '{"team":"$team","name":"ci\\u0000","scopes":["ingest"]}', 'key'],
    ['a NUL in emailFrom', 'team.update', '{"team":"$team","emailFrom":"a\\u0000@acme.example"}', 'key'],
    ['a lone surrogate in a reducer’s initialState', 'reducer.upsert', '{"team":"$team","stream":"$stream","name":"r","code":"(s) => s","initialState":{"a":"\\udc00"}}', 'key'],
  ])('refuses %s', async (_name, path, json, who) => {
    const before = await db.team.findUniqueOrThrow({ where: { id: team.id } });
    const res = await mutate(path, json.replace('$team', team.slug).replace('$stream', stream), who === 'key' ? bearer(manage) : { cookie, origin: base });
    await expectBadRequest(res, /NUL character|lone UTF-16 surrogate/);
    expect(await db.team.findUniqueOrThrow({ where: { id: team.id } })).toEqual(before);
    expect(await db.reducer.count({ where: { streamId: streamIdFor(team.slug, stream) } })).toBe(0);
  });

  it('refuses numbers JSON.parse would change in tRPC input, queries included', async () => {
    await expectBadRequest(await mutate('reducer.upsert', `{"team":"${team.slug}","stream":"${stream}","name":"r","code":"(s) => s","initialState":{"a":1e-400}}`), /would be stored as 0/);
    const input = encodeURIComponent(`{"json":{"team":"${team.slug}","stream":"${stream}","name":"r","index":1e-400}}`);
    await expectBadRequest(await fetch(`${base}/api/trpc/reducer.stateAt?input=${input}`, { headers: bearer(manage) }), /would be stored as 0/);
    expect(await db.reducer.count({ where: { streamId: streamIdFor(team.slug, stream) } })).toBe(0);
  });

  const form = (path: string, body: BodyInit, type?: string) =>
    fetch(`${base}${path}`, { method: 'POST', redirect: 'manual', headers: { origin: base, ...(type ? { 'content-type': type } : {}) }, body });

  it('refuses a NUL in the log-in email, and invalid UTF-8 in a multipart sign-up, with 400', async () => {
    await expectBadRequest(await form('/login', new URLSearchParams({ email: 'a\0@example.com', password: PASSWORD })), /Form field `email` contains the NUL character/);
    const boundary = 'pipetboundary';
    const email = `${uniqueSlug('utf8')}@example.com`;
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\n${email}\r\n--${boundary}\r\nContent-Disposition: form-data; name="password"\r\n\r\n`),
      Buffer.from([0x70, 0x61, 0x73, 0x73, 0xff, 0xfe, 0x77, 0x6f, 0x72, 0x64, 0x21, 0x21]),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    await expectBadRequest(await form('/signup', multipart, `multipart/form-data; boundary=${boundary}`), /not valid UTF-8/);
    expect(await db.user.count({ where: { email } })).toBe(0);
    await expectBadRequest(await form('/signup', `email=${encodeURIComponent(email)}&password=%FF%FE%FD%FC%FB%FA%F9%F8`, 'application/x-www-form-urlencoded'), /not valid UTF-8/);
    expect(await db.user.count({ where: { email } })).toBe(0);
  });

  it('answers an invite link over 128 characters with 400, not 500', async () => {
    const res = await fetch(`${base}/invite/${'a'.repeat(129)}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/not an invite link/);
    expect((await fetch(`${base}/invite/${'a'.repeat(64)}`)).status).toBe(200); // unknown, but could be one: the page says so
  });
});
