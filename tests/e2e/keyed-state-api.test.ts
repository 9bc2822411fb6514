// A keyed reducer's states over real HTTP, with a real worker folding: one key by URL (with
// ?after=, ?at=, ETags and SSE), pages of keys, deleting a key with a manage key, edge-case keys in
// the path, and another team's keys refused on every route.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, type TeamFixture, makeStream } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson, readSse } from '../helpers/http.ts';

const own = await useOwnDatabase('keyed_http');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

let web: Running;
let worker: Running;
let team: TeamFixture;
let other: TeamFixture;
let key: string;

const CODE = '(s, e, i, stream) => ({ n: s.n + 1, last: i, key: stream.key })';

beforeAll(async () => {
  web = await startWeb({ ...own.env, SSE_HEARTBEAT_MS: '300' });
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  other = await makeTeam(db());
  key = await team.key(['ingest', 'read']);
  const streamId = (await makeStream(db(), { teamId: team.id, slug: 'onboarding', name: 'onboarding' })).id;
  await upsertReducer({ streamId, name: 'users', code: CODE, keyBy: '(e) => e.user', initialState: { n: 0 } });
  await upsertReducer({ streamId, name: 'total', code: '(n) => n + 1', initialState: 0 });
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
});

const url = (path = '') => `${web.url}/s/${team.slug}/onboarding${path}`;
const keyUrl = (k: string, rest = '') => url(`/state/users/${encodeURIComponent(k)}${rest}`);
const post = async (body: unknown) => (await (await postJson(url(), body, bearer(key))).json()) as { index: number };

describe('one key by URL', () => {
  it('reads a key right after a POST with ?after=, and 404s a key never seen', async () => {
    const { index } = await post({ user: 'ada' });
    const res = await fetch(keyUrl('ada', `?after=${index}`), { headers: bearer(key) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ n: 1, last: index, key: 'ada' });
    expect(res.headers.get('pipet-index')).toBe(String(index));
    expect(Number(res.headers.get('pipet-folded'))).toBeGreaterThan(index);
    const missing = await expectError(await fetch(keyUrl('nobody', `?after=${index}`), { headers: bearer(key) }), 404, 'not_found');
    expect(missing.message).toContain('never seen the key `nobody`');
    // ?after= waits for any event, whether or not it belongs to this key.
    const later = await post({ user: 'bob' });
    const ada = await fetch(keyUrl('ada', `?after=${later.index}`), { headers: bearer(key) });
    expect(Number(ada.headers.get('pipet-folded'))).toBeGreaterThan(later.index);
    expect(await ada.json()).toEqual({ n: 1, last: index, key: 'ada' });
  });

  it('takes keys with unicode, /, % and 512 bytes in the path; refuses 513 bytes', async () => {
    const keys = ['ünï 🦊', 'a/b', '100%', 'é'.repeat(256), 'events'];
    let last = 0;
    for (const k of keys) last = (await post({ user: k })).index;
    for (const k of keys.slice(0, 4)) {
      const res = await fetch(keyUrl(k, `?after=${last}`), { headers: bearer(key) });
      expect(res.status, k).toBe(200);
      expect((await res.json()).key).toBe(k);
    }
    // `events` is the route's own word; `?key=` reads such a key.
    const named = await fetch(url(`/state/users?key=events&after=${last}`), { headers: bearer(key) });
    expect((await named.json()).key).toBe('events');
    await expectError(await fetch(keyUrl('x'.repeat(513)), { headers: bearer(key) }), 400, 'bad_request');
  });

  it('answers with an ETag and 304 until the key changes', async () => {
    const { index } = await post({ user: 'etag' });
    const first = await fetch(keyUrl('etag', `?after=${index}`), { headers: bearer(key) });
    const tag = first.headers.get('etag')!;
    // Another key's event leaves this key's ETag as it was.
    const otherEvent = await post({ user: 'someone-else' });
    const same = await fetch(keyUrl('etag', `?after=${otherEvent.index}`), { headers: { ...bearer(key), 'if-none-match': tag } });
    expect(same.status).toBe(304);
    const mine = await post({ user: 'etag' });
    const changed = await fetch(keyUrl('etag', `?after=${mine.index}`), { headers: { ...bearer(key), 'if-none-match': tag } });
    expect(changed.status).toBe(200);
    expect((await changed.json()).n).toBe(2);
  });

  it('time-travels one key with ?at=', async () => {
    const a = await post({ user: 'tt' });
    await post({ user: 'tt-other' });
    const b = await post({ user: 'tt' });
    await fetch(keyUrl('tt', `?after=${b.index}`), { headers: bearer(key) });
    expect(await (await fetch(keyUrl('tt', `?at=${a.index}`), { headers: bearer(key) })).json()).toMatchObject({ n: 1 });
    expect(await (await fetch(keyUrl('tt', `?at=${b.index - 1}`), { headers: bearer(key) })).json()).toMatchObject({ n: 1 });
    expect(await (await fetch(keyUrl('tt', `?at=${b.index}`), { headers: bearer(key) })).json()).toMatchObject({ n: 2 });
    await expectError(await fetch(keyUrl('tt', `?at=${a.index - 1}`), { headers: bearer(key) }), 404, 'not_found');
    await expectError(await fetch(keyUrl('tt', `?at=${b.index + 1000}`), { headers: bearer(key) }), 409, 'conflict');
    await expectError(await fetch(url(`/state/users?at=${a.index}`), { headers: bearer(key) }), 400, 'bad_request');
  });

  it("streams one key's changes over SSE, and nothing for other keys", async () => {
    const { index } = await post({ user: 'live' });
    await fetch(keyUrl('live', `?after=${index}`), { headers: bearer(key) });
    const { events } = await readSse(keyUrl('live', '/events'), {
      headers: bearer(key),
      count: 2,
      onOpen: async () => {
        await post({ user: 'not-live' });
        await post({ user: 'live' });
      },
    });
    const parsed = events.map((e) => JSON.parse(e.data));
    expect(parsed.map((p) => p.state.n)).toEqual([1, 2]);
    expect(parsed[1].state.key).toBe('live');
  });
});

describe('pages of keys', () => {
  it('lists keys with their states in code point order, by prefix, page by page, with the total', async () => {
    let last = 0;
    for (let i = 0; i < 7; i++) last = (await post({ user: `page-${i}` })).index;
    const first = await fetch(url(`/state/users?prefix=page-&limit=3&after=${last}`), { headers: bearer(key) });
    expect(first.status).toBe(200);
    const total = Number(first.headers.get('pipet-keys'));
    expect(total).toBeGreaterThanOrEqual(7);
    const seen: string[] = [];
    let body = (await first.json()) as { keys: { key: string; state: { n: number }; index: number }[]; next: string | null };
    for (;;) {
      seen.push(...body.keys.map((k) => k.key));
      expect(body.keys.every((k) => k.state.n === 1 && typeof k.index === 'number')).toBe(true);
      if (!body.next) break;
      body = await (await fetch(url(`/state/users?prefix=page-&limit=3&cursor=${body.next}`), { headers: bearer(key) })).json();
    }
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `page-${i}`));
    await expectError(await fetch(url('/state/users?cursor=%%%'), { headers: bearer(key) }), 400, 'bad_request');
    await expectError(await fetch(url('/state/users?limit=1001'), { headers: bearer(key) }), 400, 'bad_request');
  });

  it('leaves an unkeyed reducer as it was, and 404s a key route on it', async () => {
    expect(typeof (await (await fetch(url('/state/total'), { headers: bearer(key) })).json())).toBe('number');
    await expectError(await fetch(url('/state/total/ada'), { headers: bearer(key) }), 404, 'not_found');
  });
});

describe('deleting a key', () => {
  it('needs a manage key, then forgets the key', async () => {
    const { index } = await post({ user: 'forget-me' });
    await fetch(keyUrl('forget-me', `?after=${index}`), { headers: bearer(key) });
    await expectError(await fetch(keyUrl('forget-me'), { method: 'DELETE', headers: bearer(key) }), 403, 'forbidden');
    const manage = await team.key(['manage']);
    const res = await fetch(keyUrl('forget-me'), { method: 'DELETE', headers: bearer(manage) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ deleted: 'forget-me', timersCancelled: 0 });
    await expectError(await fetch(keyUrl('forget-me'), { headers: bearer(key) }), 404, 'not_found');
    await expectError(await fetch(keyUrl('forget-me'), { method: 'DELETE', headers: bearer(manage) }), 404, 'not_found');
  });
});

describe("another team's key", () => {
  it('is refused on every keyed route', async () => {
    const { index } = await post({ user: 'private' });
    await fetch(keyUrl('private', `?after=${index}`), { headers: bearer(key) });
    const foreign = await other.key(['ingest', 'read', 'manage']);
    for (const [path, method] of [
      [keyUrl('private'), 'GET'],
      [keyUrl('private', `?at=${index}`), 'GET'],
      [keyUrl('private', '/events'), 'GET'],
      [url('/state/users'), 'GET'],
      [url('/state/users?key=private'), 'GET'],
      [keyUrl('private'), 'DELETE'],
    ] as const) {
      const res = await fetch(path, { method, headers: bearer(foreign) });
      expect([403, 404], `${method} ${path}`).toContain(res.status);
      expect(await res.text()).not.toContain('"n"');
    }
    // Without any key: a private stream asks for one.
    await expectError(await fetch(keyUrl('private')), 401, 'unauthorized');
    // And the key is still there.
    expect((await fetch(keyUrl('private'), { headers: bearer(key) })).status).toBe(200);
  });
});
