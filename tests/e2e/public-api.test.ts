// Every row of DESIGN.md's public API table, over real HTTP against the built server.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useWebServer, type TeamFixture, makeStream } from '../helpers/context.ts';
import { bearer, expectError, postJson, readSse } from '../helpers/http.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';

const { url: base, db } = useWebServer();
let team: TeamFixture;
let rw: string; // ingest + read
let ingest: string;
let read: string;

beforeAll(async () => {
  team = await makeTeam(db);
  rw = await team.key(['ingest', 'read']);
  ingest = await team.key(['ingest']);
  read = await team.key(['read']);
});

const streamUrl = (stream: string, path = '') => `${base}/s/${team.slug}/${stream}${path}`;

/** A management API call with a manage key (tRPC over HTTP, superjson). */
async function manageApi(path: string, input: object) {
  manage ??= await team.key(['manage']);
  return postJson(`${base}/api/trpc/${path}`, { json: { team: team.slug, ...input } }, bearer(manage));
}
let manage: string | undefined;

async function getJson(url: string, key = rw) {
  const res = await fetch(url, { headers: bearer(key) });
  return { res, body: await res.json() };
}

describe('POST appends', () => {
  it('appends a JSON value and reads it back at its index', async () => {
    const s = uniqueSlug('json');
    const res = await postJson(streamUrl(s), { type: 'signup', user: 'ada' }, bearer(rw));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ index: 0, length: 1 });
    expect(res.headers.get('location')).toBe(`/s/${team.slug}/${s}/0`);
    const { res: got, body } = await getJson(streamUrl(s, '/0'));
    expect(body).toEqual({ type: 'signup', user: 'ada' });
    expect(got.headers.get('pipet-index')).toBe('0');
    expect(Date.parse(got.headers.get('pipet-received-at')!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('stores any JSON type', async () => {
    const s = uniqueSlug('types');
    const values = ['text', 42, 3.5, true, false, null, [1, 'two', { three: 3 }], { nested: { deep: [null] } }];
    for (const v of values) expect((await postJson(streamUrl(s), v, bearer(rw))).status).toBe(201);
    const { body } = await getJson(streamUrl(s));
    expect(body).toEqual(values);
  });

  it('appends form fields as an object, repeated names as arrays', async () => {
    const s = uniqueSlug('form');
    const res = await fetch(streamUrl(s), {
      method: 'POST',
      headers: { ...bearer(rw), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'email=ada%40example.com&topic=a&topic=b',
    });
    expect(res.status).toBe(201);
    expect((await getJson(streamUrl(s, '/0'))).body).toEqual({ email: 'ada@example.com', topic: ['a', 'b'] });
  });

  it('appends multipart text fields', async () => {
    const s = uniqueSlug('multipart');
    const form = new FormData();
    form.append('name', 'Ada');
    form.append('tag', 'x');
    form.append('tag', 'y');
    const res = await fetch(streamUrl(s), { method: 'POST', headers: bearer(rw), body: form });
    expect(res.status).toBe(201);
    expect((await getJson(streamUrl(s, '/0'))).body).toEqual({ name: 'Ada', tag: ['x', 'y'] });
  });

  it('refuses file fields in a multipart form', async () => {
    const s = uniqueSlug('files');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    const form = new FormData();
    form.append('upload', new Blob(['x']), 'x.txt');
    await expectError(await fetch(streamUrl(s), { method: 'POST', headers: bearer(rw), body: form }), 415, 'unsupported_media_type');
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(1);
  });

  it('takes a JSON body that curl -d labelled as a form', async () => {
    const s = uniqueSlug('curl');
    const res = await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'application/x-www-form-urlencoded' }, body: '{"a":1}' });
    expect(res.status).toBe(201);
    expect((await getJson(streamUrl(s, '/0'))).body).toEqual({ a: 1 });
  });

  it('appends text/plain as a string', async () => {
    const s = uniqueSlug('text');
    const res = await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'text/plain' }, body: 'hello\nworld' });
    expect(res.status).toBe(201);
    expect((await getJson(streamUrl(s, '/0'))).body).toBe('hello\nworld');
  });

  it('appends a batch in order, all or nothing', async () => {
    const s = uniqueSlug('batch');
    await postJson(streamUrl(s), 'first', bearer(rw));
    const res = await postJson(streamUrl(s, '/batch'), [{ n: 1 }, { n: 2 }, { n: 3 }], bearer(rw));
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ first: 1, count: 3, length: 4 });
    expect(res.headers.get('location')).toBe(`/s/${team.slug}/${s}/1`);
    expect((await getJson(streamUrl(s))).body).toEqual(['first', { n: 1 }, { n: 2 }, { n: 3 }]);

    const tooBig = 'x'.repeat(300 * 1024);
    await expectError(await postJson(streamUrl(s, '/batch'), [{ ok: 1 }, tooBig], bearer(rw)), 413, 'payload_too_large');
    await expectError(await postJson(streamUrl(s, '/batch'), [{ ok: 1 }, 'nul \u0000 char'], bearer(rw)), 400);
    await expectError(await postJson(streamUrl(s, '/batch'), { not: 'an array' }, bearer(rw)), 400);
    await expectError(await postJson(streamUrl(s, '/batch'), [], bearer(rw)), 400);
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(4);
  });

  it('replays the original answer for a repeated Idempotency-Key', async () => {
    const s = uniqueSlug('idem');
    const headers = { ...bearer(rw), 'idempotency-key': 'order-17' };
    const first = await postJson(streamUrl(s), { order: 17 }, headers);
    expect(first.status).toBe(201);
    const again = await postJson(streamUrl(s), { order: 17 }, headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(await first.json());
    const batch = { ...bearer(rw), 'idempotency-key': 'batch-1' };
    const b1 = await postJson(streamUrl(s, '/batch'), [1, 2], batch);
    const b2 = await postJson(streamUrl(s, '/batch'), [1, 2], batch);
    expect([b1.status, b2.status]).toEqual([201, 200]);
    expect(await b2.json()).toEqual({ first: 1, count: 2, length: 3 });
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(3);
  });

  it('answers concurrent requests with one Idempotency-Key with one append', async () => {
    const s = uniqueSlug('idem-race');
    const results = await Promise.all(Array.from({ length: 8 }, () => postJson(streamUrl(s), 'once', { ...bearer(rw), 'idempotency-key': 'k' })));
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(1);
  });

  it("keeps each sender's Idempotency-Keys apart, and refuses a key reused with another body", async () => {
    const s = uniqueSlug('idem-scope');
    await makeStream(db, { teamId: team.id, slug: s, name: s, publicWrite: true });
    const stranger = await postJson(streamUrl(s), { order: 17, by: 'stranger' }, { 'idempotency-key': 'order-17' });
    expect(stranger.status).toBe(201);
    const owner = await postJson(streamUrl(s), { order: 17, by: 'owner' }, { ...bearer(rw), 'idempotency-key': 'order-17' });
    expect(owner.status).toBe(201);
    expect(await owner.json()).toEqual({ index: 1, length: 2 });
    const reused = await postJson(streamUrl(s), { order: 18, by: 'owner' }, { ...bearer(rw), 'idempotency-key': 'order-17' });
    await expectError(reused, 422, 'idempotency_mismatch');
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(2);
  });
});

describe('HTML forms from customers\' sites', () => {
  let s: string;
  let formKey: string;
  beforeAll(async () => {
    s = uniqueSlug('signup-form');
    formKey = await team.key(['ingest'], s);
    await db.stream.update({ where: { id: streamIdFor(team.slug, s) }, data: { allowedOrigins: ['https://customer.example'] } });
  });

  const submit = (body: string, origin = 'https://customer.example') =>
    fetch(`${streamUrl(s)}?key=${formKey}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html,application/xhtml+xml', origin },
      body,
    });

  it('redirects a browser to _redirect on an allowed origin, without storing _redirect', async () => {
    const res = await submit('email=a%40b.co&_redirect=https%3A%2F%2Fcustomer.example%2Fthanks');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('https://customer.example/thanks');
    const last = await getJson(streamUrl(s, '/-1'), read);
    expect(last.body).toEqual({ email: 'a@b.co' });
  });

  it('sends a browser to the built-in thank-you page when _redirect is elsewhere', async () => {
    const res = await submit('email=c%40d.co&_redirect=https%3A%2F%2Fevil.example%2F', 'https://evil.example');
    expect(res.status).toBe(303);
    const location = new URL(res.headers.get('location')!);
    expect(location.pathname).toBe('/thanks');
    const page = await fetch(location);
    expect(await page.text()).toContain('Thank you');
  });
});

describe('GET reads', () => {
  let s: string;
  beforeAll(async () => {
    s = uniqueSlug('read');
    await postJson(streamUrl(s, '/batch'), Array.from({ length: 25 }, (_, i) => ({ i })), bearer(rw));
  });

  it('returns slice(start, end) with Pipet-Length', async () => {
    const all = Array.from({ length: 25 }, (_, i) => ({ i }));
    for (const [q, expected] of [
      ['', all],
      ['?start=20', all.slice(20)],
      ['?start=-3', all.slice(-3)],
      ['?start=2&end=5', all.slice(2, 5)],
      ['?start=-5&end=-2', all.slice(-5, -2)],
      ['?start=30', []],
    ] as const) {
      const { res, body } = await getJson(streamUrl(s, q));
      expect(body, q).toEqual(expected);
      expect(res.headers.get('pipet-length')).toBe('25');
    }
  });

  it('pages with limit and Link: rel="next"', async () => {
    const seen: unknown[] = [];
    let next: string | null = streamUrl(s, '?limit=10');
    let pages = 0;
    while (next) {
      const { res, body } = await getJson(next);
      seen.push(...body);
      pages++;
      const link = res.headers.get('link');
      next = link ? new URL(/<([^>]+)>; rel="next"/.exec(link)![1], base).href : null;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => ({ i })));
    await expectError(await fetch(streamUrl(s, '?limit=1001'), { headers: bearer(rw) }), 400);
    await expectError(await fetch(streamUrl(s, '?start=abc'), { headers: bearer(rw) }), 400);
  });

  it('returns the length', async () => {
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(25);
  });

  it('reads by index, negative from the end, 404 out of range, 400 for non-indices', async () => {
    expect((await getJson(streamUrl(s, '/24'))).body).toEqual({ i: 24 });
    const last = await getJson(streamUrl(s, '/-1'));
    expect(last.body).toEqual({ i: 24 });
    expect(last.res.headers.get('pipet-index')).toBe('24');
    expect((await getJson(streamUrl(s, '/-25'))).body).toEqual({ i: 0 });
    await expectError(await fetch(streamUrl(s, '/25'), { headers: bearer(rw) }), 404, 'not_found');
    await expectError(await fetch(streamUrl(s, '/-26'), { headers: bearer(rw) }), 404);
    await expectError(await fetch(streamUrl(s, '/1.5'), { headers: bearer(rw) }), 400, 'invalid_index');
    await expectError(await fetch(streamUrl(s, '/abc'), { headers: bearer(rw) }), 400, 'invalid_index');
  });

  it('holds ?wait= until the element exists', async () => {
    const w = uniqueSlug('wait');
    await postJson(streamUrl(w), 'zero', bearer(rw));
    const started = Date.now();
    const pending = fetch(streamUrl(w, '/1?wait=10'), { headers: bearer(rw) });
    await new Promise((r) => setTimeout(r, 400));
    await postJson(streamUrl(w), 'one', bearer(rw));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toBe('one');
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    await expectError(await fetch(streamUrl(w, '/5?wait=1'), { headers: bearer(rw) }), 404);
    await expectError(await fetch(streamUrl(w, '/5?wait=61'), { headers: bearer(rw) }), 400);
  });
});

describe('GET /events (Server-Sent Events)', () => {
  it('streams from ?from=, then live appends', async () => {
    const s = uniqueSlug('sse');
    await postJson(streamUrl(s, '/batch'), ['a', 'b'], bearer(rw));
    const { res, events } = await readSse(streamUrl(s, '/events?from=0'), {
      headers: bearer(rw),
      count: 3,
      onOpen: async () => void (await postJson(streamUrl(s), 'c', bearer(rw))),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    expect(events.map((e) => e.id)).toEqual(['0', '1', '2']);
    const parsed = events.map((e) => JSON.parse(e.data));
    expect(parsed.map((p) => p.body)).toEqual(['a', 'b', 'c']);
    expect(parsed[0].index).toBe(0);
    expect(Date.parse(parsed[0].receivedAt)).not.toBeNaN();
  });

  it('resumes after Last-Event-ID', async () => {
    const s = uniqueSlug('sse-resume');
    await postJson(streamUrl(s, '/batch'), [0, 1, 2, 3], bearer(rw));
    const { events } = await readSse(streamUrl(s, '/events'), { headers: { ...bearer(rw), 'last-event-id': '1' }, count: 2 });
    expect(events.map((e) => JSON.parse(e.data).body)).toEqual([2, 3]);
  });

  it('sends heartbeats while idle', async () => {
    const s = uniqueSlug('sse-idle');
    await postJson(streamUrl(s), 'x', bearer(rw));
    const { comments } = await readSse(streamUrl(s, '/events'), { headers: bearer(rw), count: 1, timeoutMs: 1_500 });
    expect(comments).toContain('heartbeat');
  });
});

describe('CORS', () => {
  let s: string;
  beforeAll(async () => {
    s = uniqueSlug('cors');
    await postJson(streamUrl(s), 'x', bearer(rw));
    await db.stream.update({ where: { id: streamIdFor(team.slug, s) }, data: { allowedOrigins: ['https://app.example'] } });
  });

  it('answers preflights for allowed origins only', async () => {
    const ok = await fetch(streamUrl(s), { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(ok.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    const no = await fetch(streamUrl(s), { method: 'OPTIONS', headers: { origin: 'https://other.example', 'access-control-request-method': 'POST' } });
    expect(no.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('labels responses and errors for allowed origins and exposes Pipet headers', async () => {
    const res = await fetch(streamUrl(s, '/0'), { headers: { ...bearer(rw), origin: 'https://app.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('access-control-expose-headers')).toContain('Pipet-Index');
    const err = await fetch(streamUrl(s, '/99'), { headers: { ...bearer(rw), origin: 'https://app.example' } });
    expect(err.status).toBe(404);
    expect(err.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const other = await fetch(streamUrl(s, '/0'), { headers: { ...bearer(rw), origin: 'https://other.example' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('authentication and errors', () => {
  it('401 without credentials or with a bad key', async () => {
    const s = uniqueSlug('auth');
    await postJson(streamUrl(s), 'x', bearer(rw));
    await expectError(await fetch(streamUrl(s)), 401, 'unauthorized');
    await expectError(await postJson(streamUrl(s), 'x'), 401, 'unauthorized');
    await expectError(await fetch(streamUrl(s), { headers: bearer('pk_nope_nope') }), 401, 'unauthorized');
  });

  it('403 for the wrong scope, another team\'s key, or a key limited to another stream', async () => {
    const s = uniqueSlug('scope');
    await postJson(streamUrl(s), 'x', bearer(rw));
    await expectError(await postJson(streamUrl(s), 'y', bearer(read)), 403, 'forbidden');
    await expectError(await fetch(streamUrl(s), { headers: bearer(ingest) }), 403, 'forbidden');
    const other = await makeTeam(db);
    const otherKey = await other.key(['ingest', 'read']);
    await expectError(await fetch(streamUrl(s), { headers: bearer(otherKey) }), 403, 'forbidden');
    await expectError(await postJson(streamUrl(s), 'z', bearer(otherKey)), 403);
    const limited = await team.key(['ingest', 'read'], uniqueSlug('elsewhere'));
    await expectError(await fetch(streamUrl(s), { headers: bearer(limited) }), 403);
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(1);
  });

  it('404 for a stream that does not exist when reading', async () => {
    await expectError(await fetch(streamUrl(uniqueSlug('missing')), { headers: bearer(rw) }), 404, 'not_found');
    await expectError(await fetch(`${base}/s/${team.slug}/Bad_Slug`, { headers: bearer(rw) }), 404);
  });

  it('400 broken JSON, 413 oversized event, 415 unsupported type — nothing appended', async () => {
    const s = uniqueSlug('bad');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    const broken = await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'application/json' }, body: '{"a":' });
    await expectError(broken, 400, 'invalid_json');
    await expectError(await postJson(streamUrl(s), { big: 'x'.repeat(257 * 1024) }, bearer(rw)), 413, 'payload_too_large');
    const xml = await fetch(streamUrl(s), { method: 'POST', headers: { ...bearer(rw), 'content-type': 'application/xml' }, body: '<a/>' });
    await expectError(xml, 415, 'unsupported_media_type');
    expect((await getJson(streamUrl(s, '/length'))).body).toBe(1);
  });

  it('a revoked key stops working at once', async () => {
    const s = uniqueSlug('revoke');
    const key = await team.key(['ingest', 'read']);
    expect((await postJson(streamUrl(s), 1, bearer(key))).status).toBe(201);
    // Revoked through the management API, which every web process hears before it returns.
    const row = await db.apiKey.findFirstOrThrow({ where: { teamId: team.id, prefix: key.split('_')[1] } });
    expect((await manageApi('apiKey.revoke', { id: row.id })).status).toBe(200);
    await expectError(await postJson(streamUrl(s), 2, bearer(key)), 401);
  });
});

describe('stream creation and public streams', () => {
  it('a team-wide ingest key creates a stream on first write; a stream-limited key cannot', async () => {
    const s = uniqueSlug('auto');
    expect((await postJson(streamUrl(s), 'hi', bearer(ingest))).status).toBe(201);
    expect(await db.stream.count({ where: { teamId: team.id, slug: s } })).toBe(1);
    const limited = await team.key(['ingest'], uniqueSlug('only-this'));
    await expectError(await postJson(streamUrl(uniqueSlug('new')), 'x', bearer(limited)), 403);
  });

  it('auto-creation follows the team setting', async () => {
    const strict = await makeTeam(db, { autoCreateStreams: false });
    const key = await strict.key(['ingest', 'read']);
    const res = await postJson(`${base}/s/${strict.slug}/${uniqueSlug('nope')}`, 'x', bearer(key));
    await expectError(res, 404, 'not_found');
  });

  it('public-read and public-write streams need no key', async () => {
    const s = uniqueSlug('public');
    await postJson(streamUrl(s), 'seed', bearer(rw));
    await expectError(await fetch(streamUrl(s, '/0')), 401);
    expect((await manageApi('stream.update', { stream: s, publicRead: true })).status).toBe(200);
    expect(await (await fetch(streamUrl(s, '/0'))).json()).toBe('seed');
    await expectError(await postJson(streamUrl(s), 'anon'), 401);
    expect((await manageApi('stream.update', { stream: s, publicWrite: true })).status).toBe(200);
    expect((await postJson(streamUrl(s), 'anon')).status).toBe(201);
    expect(await (await fetch(streamUrl(s, '/-1'))).json()).toBe('anon');
  });
});
