// Segment-compatible ingest, driven by the real clients from npm — @segment/analytics-node,
// @rudderstack/rudder-sdk-node, and @segment/analytics-next in chromium — into streams a reducer
// folds. Each SDK goes through a proxy that loses the answer to a POST after it was stored, so the
// SDK retries the same messageIds: every event is still stored exactly once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { Analytics } from '@segment/analytics-node';
import Rudder from '@rudderstack/rudder-sdk-node';
import type { Browser } from 'playwright-core';
import { makeTeam, uniqueSlug, useOwnDatabase, type TeamFixture, makeStream } from '../helpers/context.ts';
import { ROOT, startWeb, type Running } from '../helpers/server.ts';
import { bearer, expectError } from '../helpers/http.ts';
import { flakyProxy, type FlakyProxy } from '../helpers/flaky-proxy.ts';
import { launch, watchErrors } from './browser-kit.ts';

const own = await useOwnDatabase('segment');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');

let web: Running;
let team: TeamFixture;
let read: string;
const proxies: FlakyProxy[] = [];
beforeAll(async () => {
  web = await startWeb(own.env);
  team = await makeTeam(db());
  read = await team.key(['read']);
});
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
  await web?.stop();
});

// Counts messages by type and keeps every messageId, in the order folded.
const COUNTER = `(s, e) => ({ count: s.count + 1, types: { ...s.types, [e.type]: (s.types[e.type] || 0) + 1 }, ids: s.ids.concat(e.messageId) })`;
type Counted = { count: number; types: Record<string, number>; ids: string[] };

/** A stream with the counting reducer, and a write key (an ingest key limited to it). */
async function streamWithReducer(base: string) {
  const slug = uniqueSlug(base);
  const writeKey = await team.key(['ingest'], slug);
  const stream = await db().stream.findFirstOrThrow({ where: { teamId: team.id, slug }, select: { id: true } });
  const { reducer } = await upsertReducer({ streamId: stream.id, name: 'count', code: COUNTER, initialState: { count: 0, types: {}, ids: [] } });
  return { slug, writeKey, streamId: stream.id, reducerId: reducer.id };
}

async function events(slug: string): Promise<Record<string, any>[]> {
  const res = await fetch(`${web.url}/s/${team.slug}/${slug}?limit=1000`, { headers: bearer(read) });
  expect(res.status).toBe(200);
  return res.json();
}

async function waitForLength(slug: string, n: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const length = await (await fetch(`${web.url}/s/${team.slug}/${slug}/length`, { headers: bearer(read) })).json();
    if (length >= n) return;
    if (Date.now() > deadline) throw new Error(`stream ${slug} has ${length} events, expected ${n}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function folded(streamId: string, reducerId: string): Promise<Counted> {
  while ((await foldStream({ streamId })).more);
  const state = await db().reducerState.findUniqueOrThrow({ where: { streamId_reducerId: { streamId, reducerId } } });
  return state.state as Counted;
}

function expectOnce(state: Counted, stored: Record<string, any>[]): void {
  expect(new Set(state.ids).size).toBe(state.ids.length);
  expect(state.count).toBe(stored.length);
  expect(state.ids).toEqual(stored.map((e) => e.messageId));
}

describe('@segment/analytics-node', () => {
  it('delivers track, identify, page, group, screen and alias through /v1/batch, once each despite a lost answer', async () => {
    const s = await streamWithReducer('node');
    const proxy = await flakyProxy(web.url, { drop: 1 });
    proxies.push(proxy);
    const analytics = new Analytics({ writeKey: s.writeKey, host: proxy.url, flushAt: 6, flushInterval: 200, maxRetries: 5 });
    const failures: unknown[] = [];
    analytics.on('error', (e) => failures.push(e));
    analytics.track({ userId: 'ada', event: 'Signed Up', properties: { plan: 'pro' } });
    analytics.identify({ userId: 'ada', traits: { email: 'ada@example.com' } });
    analytics.page({ userId: 'ada', name: 'Docs', properties: { path: '/docs' } });
    analytics.group({ userId: 'ada', groupId: 'acme' });
    analytics.screen({ anonymousId: 'device-1', name: 'Home' });
    analytics.alias({ userId: 'ada', previousId: 'device-1' });
    await analytics.closeAndFlush({ timeout: 20_000 });
    expect(failures).toEqual([]);
    expect(proxy.dropped).toBe(1);
    expect(proxy.posts).toBeGreaterThan(1);

    const stored = await events(s.slug);
    expect(stored).toHaveLength(6);
    const state = await folded(s.streamId, s.reducerId);
    expect(state.types).toEqual({ track: 1, identify: 1, page: 1, group: 1, screen: 1, alias: 1 });
    expectOnce(state, stored);
    const track = stored.find((e) => e.type === 'track')!;
    expect(track).toMatchObject({ event: 'Signed Up', userId: 'ada', properties: { plan: 'pro' }, context: { ip: '127.0.0.1', library: { name: '@segment/analytics-node' } } });
    expect(Date.parse(track.receivedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(Math.abs(Date.parse(track.timestamp) - Date.parse(track.receivedAt))).toBeLessThan(60_000);
    expect(stored.every((e) => !('writeKey' in e))).toBe(true);
  });
});

describe('@rudderstack/rudder-sdk-node', () => {
  it('delivers gzip-compressed batches to /v1/batch, once each despite a lost answer', async () => {
    const s = await streamWithReducer('rudder');
    const proxy = await flakyProxy(web.url, { drop: 1 });
    proxies.push(proxy);
    const rudder = new Rudder(s.writeKey, { dataPlaneUrl: proxy.url, flushAt: 3, flushInterval: 200, retryCount: 5, logLevel: 'error' });
    rudder.track({ userId: 'bob', event: 'Order Completed', properties: { total: 42 } });
    rudder.identify({ userId: 'bob', traits: { name: 'Bob' } });
    rudder.page({ userId: 'bob', name: 'Pricing' });
    rudder.track({ anonymousId: 'anon-7', event: 'Viewed' });
    await rudder.flush();
    await waitForLength(s.slug, 4);
    expect(proxy.dropped).toBe(1);
    expect(proxy.posts).toBeGreaterThan(1);

    const stored = await events(s.slug);
    expect(stored).toHaveLength(4);
    const state = await folded(s.streamId, s.reducerId);
    expect(state.types).toEqual({ track: 2, identify: 1, page: 1 });
    expectOnce(state, stored);
    expect(stored[0]).toMatchObject({ type: 'track', event: 'Order Completed', channel: 'server', context: { library: { name: 'analytics-node' } } });
    expect(stored[0].originalTimestamp).toBeTruthy();
  });
});

describe('@segment/analytics-next in chromium', () => {
  let browser: Browser;
  let page: Server;
  let pageUrl = '';
  beforeAll(async () => {
    // A site on loopback that loads the browser SDK's bundle from node_modules.
    const bundle = readFileSync(join(ROOT, 'node_modules/@segment/analytics-next/dist/umd/index.js'));
    const html = `<!doctype html><html><head><script src="/analytics.js"></script></head><body>
<script>
  window.run = async ({ writeKey, cdnURL, segmentio }) => {
    const analytics = AnalyticsNext.AnalyticsBrowser.load({ writeKey, cdnURL }, segmentio ? { integrations: { 'Segment.io': segmentio } } : {});
    await analytics.identify('cleo', { email: 'cleo@example.com' });
    await analytics.track('Signed Up', { plan: 'team' });
    await analytics.page('Docs', 'Getting started');
    return 'sent';
  };
</script></body></html>`;
    page = createServer((req, res) => {
      if (req.url === '/analytics.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
      else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => page?.close(r));
  });

  async function runPage(options: Record<string, unknown>) {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors = watchErrors(tab);
    const paths: string[] = [];
    tab.on('request', (r) => paths.push(`${r.method()} ${new URL(r.url()).pathname}`));
    await tab.goto(pageUrl);
    expect(await tab.evaluate((o) => (window as any).run(o), options)).toBe('sent');
    return { context, errors, paths };
  }

  it('loads its settings from this server and sends identify, track and page to /v1/i, /v1/t, /v1/p', async () => {
    const s = await streamWithReducer('browser');
    const { context, errors, paths } = await runPage({ writeKey: s.writeKey, cdnURL: web.url });
    await waitForLength(s.slug, 3);
    await context.close();
    expect(paths).toContain(`GET /v1/projects/${s.writeKey}/settings`);
    expect(paths).toEqual(expect.arrayContaining(['POST /v1/i', 'POST /v1/t', 'POST /v1/p']));
    expect(errors).toEqual([]);

    const stored = await events(s.slug);
    const state = await folded(s.streamId, s.reducerId);
    expect(state.types).toEqual({ identify: 1, track: 1, page: 1 });
    expectOnce(state, stored);
    const track = stored.find((e) => e.type === 'track')!;
    expect(track).toMatchObject({ event: 'Signed Up', userId: 'cleo', properties: { plan: 'team' }, context: { ip: '127.0.0.1', library: { name: 'analytics.js' } } });
    expect(track.anonymousId).toBeTruthy();
    expect(track.sentAt).toBeTruthy();
  });

  it('batches to /v1/b and retries a lost answer without duplicating an event', async () => {
    const s = await streamWithReducer('browser-batch');
    // Two lost answers: Chromium itself resends a POST once when a kept-alive connection drops it,
    // so the second loss is what reaches the SDK and makes it retry.
    const proxy = await flakyProxy(web.url, { drop: 2 });
    proxies.push(proxy);
    const segmentio = { apiHost: `${proxy.host}/v1`, protocol: 'http', deliveryStrategy: { strategy: 'batching', config: { size: 3, timeout: 300 } } };
    const { context, paths } = await runPage({ writeKey: s.writeKey, cdnURL: web.url, segmentio });
    await waitForLength(s.slug, 3);
    // The SDK retries the batch whose answer was lost (after its backoff); wait for that retry.
    const deadline = Date.now() + 20_000;
    while (proxy.posts < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    await context.close();
    expect(paths.filter((p) => p === 'POST /v1/b').length).toBeGreaterThan(1);
    expect(proxy.dropped).toBe(2);

    const stored = await events(s.slug);
    expect(stored).toHaveLength(3);
    const state = await folded(s.streamId, s.reducerId);
    expect(state.types).toEqual({ identify: 1, track: 1, page: 1 });
    expectOnce(state, stored);
  });
});

describe('the /v1 HTTP API', () => {
  const v1 = (path: string) => `${web.url}/v1/${path}`;
  const basic = (user: string) => ({ authorization: `Basic ${Buffer.from(user).toString('base64')}` });
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(v1(path), { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  it('takes the write key as Basic `key:` or `key`, Bearer, or writeKey in the body, and JSON whatever the Content-Type', async () => {
    const s = await streamWithReducer('auth');
    const msg = (n: number) => ({ userId: 'u', event: `E${n}` });
    for (const [i, res] of [
      await post('track', msg(1), basic(`${s.writeKey}:`)),
      await post('track', msg(2), basic(s.writeKey)),
      await post('t', msg(3), bearer(s.writeKey)),
      await post('track', { ...msg(4), writeKey: s.writeKey }, { 'content-type': 'text/plain' }),
      await fetch(v1('t'), { method: 'POST', body: JSON.stringify({ ...msg(5), writeKey: s.writeKey }) }),
    ].entries()) {
      expect([i, res.status, await res.json()]).toEqual([i, 200, { success: true }]);
    }
    expect((await events(s.slug)).map((e) => e.event)).toEqual(['E1', 'E2', 'E3', 'E4', 'E5']);
  });

  it('refuses missing, bad, team-wide and read-only keys with the usual error body', async () => {
    const teamWide = await team.key(['ingest']);
    const readOnly = await team.key(['read'], uniqueSlug('ro'));
    const msg = { userId: 'u', event: 'E' };
    await expectError(await post('track', msg), 401, 'unauthorized');
    await expectError(await post('track', msg, basic('pk_nope_nope:')), 401, 'unauthorized');
    expect((await expectError(await post('track', msg, basic(`${teamWide}:`)), 403, 'forbidden')).message).toMatch(/limited to one stream/);
    await expectError(await post('track', msg, basic(`${readOnly}:`)), 403, 'forbidden');
    await expectError(await fetch(`${web.url}/v1/projects/pk_nope_nope/settings`), 401, 'unauthorized');
    // A key that can also read is no key to publish in a page: the settings route (the browser SDK's) refuses it.
    const readToo = await team.key(['ingest', 'read'], uniqueSlug('rw'));
    expect((await expectError(await fetch(`${web.url}/v1/projects/${readToo}/settings`), 403, 'forbidden')).message).toMatch(/ingest-only/);
    await expectError(await post('nope', msg), 404);
    const s = await streamWithReducer('no-type');
    await expectError(await fetch(v1('t'), { method: 'POST', headers: basic(s.writeKey), body: Buffer.from(JSON.stringify(msg)) }), 415, 'unsupported_media_type');
  });

  it('answers CORS for any origin, preflight included', async () => {
    const s = await streamWithReducer('cors');
    const pre = await fetch(v1('t'), { method: 'OPTIONS', headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('*');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    const res = await post('t', { userId: 'u', event: 'E' }, { ...basic(s.writeKey), origin: 'https://shop.example', 'content-type': 'text/plain' });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const refused = await post('t', { userId: 'u' }, { ...basic(s.writeKey), origin: 'https://shop.example' });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('enriches: batch context and integrations merged, receivedAt, messageId, context.ip, timestamp corrected for clock skew', async () => {
    const s = await streamWithReducer('enrich');
    const skew = 3_600_000; // the device's clock is an hour fast
    const sentAt = new Date(Date.now() + skew);
    const res = await post(
      'batch',
      {
        batch: [
          { type: 'track', userId: 'u', event: 'A', timestamp: new Date(sentAt.getTime() - 10_000).toISOString(), context: { locale: 'fr' } },
          { type: 'identify', anonymousId: 'x', messageId: 'given-id', integrations: { Mixpanel: false } },
        ],
        context: { locale: 'en', app: { name: 'shop' } },
        integrations: { All: true },
        sentAt: sentAt.toISOString(),
      },
      basic(s.writeKey),
    );
    expect(res.status).toBe(200);
    const [a, b] = await events(s.slug);
    expect(a.context).toEqual({ locale: 'fr', app: { name: 'shop' }, ip: '127.0.0.1' });
    expect(a.integrations).toEqual({ All: true });
    expect(a.messageId).toMatch(/^pipet-/);
    const corrected = Date.parse(a.receivedAt) - 10_000;
    expect(Math.abs(Date.parse(a.timestamp) - corrected)).toBeLessThan(5); // the skew is gone
    expect(b).toMatchObject({ messageId: 'given-id', integrations: { All: true, Mixpanel: false }, context: { app: { name: 'shop' } } });
  });

  it('de-duplicates messageIds per write key for 24 h: a batch appends only its new messages', async () => {
    const s = await streamWithReducer('dedup');
    const m = (id: string) => ({ type: 'track', userId: 'u', event: id, messageId: id });
    expect((await post('batch', { batch: [m('a'), m('b')] }, basic(s.writeKey))).status).toBe(200);
    expect((await post('batch', { batch: [m('b'), m('c'), m('c'), m('a'), m('d')] }, basic(s.writeKey))).status).toBe(200);
    expect((await post('track', m('d'), basic(s.writeKey))).status).toBe(200);
    expect((await events(s.slug)).map((e) => e.messageId)).toEqual(['a', 'b', 'c', 'd']);
    // Another write key of the same stream has its own messageIds.
    const other = await team.key(['ingest'], s.slug);
    expect((await post('track', m('a'), basic(other))).status).toBe(200);
    expect((await events(s.slug)).map((e) => e.messageId)).toEqual(['a', 'b', 'c', 'd', 'a']);
    // Concurrent retries of one batch store it once.
    const batch = { batch: [m('p'), m('q'), m('r')] };
    const answers = await Promise.all(Array.from({ length: 5 }, () => post('b', batch, basic(s.writeKey))));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
    expect((await events(s.slug)).map((e) => e.messageId)).toEqual(['a', 'b', 'c', 'd', 'a', 'p', 'q', 'r']);
  });

  it('validates every message and stores nothing of a batch with one bad message', async () => {
    const s = await streamWithReducer('valid');
    const key = basic(s.writeKey);
    const ok = { type: 'track', userId: 'u', event: 'E' };
    const cases: [string, unknown, RegExp][] = [
      ['track', { userId: 'u' }, /needs `event`/],
      ['identify', { traits: {} }, /`userId` or an `anonymousId`/],
      ['group', { userId: 'u' }, /needs `groupId`/],
      ['alias', { userId: 'u' }, /needs `previousId`/],
      ['batch', { batch: [ok, { userId: 'u', event: 'E' }] }, /Message 1 of the batch needs a `type`/],
      ['batch', { batch: [ok, { type: 'group', userId: 'u' }] }, /Message 1 of the batch is a `group` and needs `groupId`/],
      ['track', '{"userId": ', /not valid JSON/],
    ];
    for (const [path, body, message] of cases) {
      const err = await expectError(await post(path, body, key), 400);
      expect(err.message).toMatch(message);
    }
    expect(await events(s.slug)).toEqual([]);
  });

  it('enforces 32 KB a message, 500 KB and 2,500 messages a batch with 413, compressed or not', async () => {
    const s = await streamWithReducer('limits');
    const key = basic(s.writeKey);
    const big = { type: 'track', userId: 'u', event: 'E', properties: { s: 'x'.repeat(33 * 1024) } };
    await expectError(await post('track', big, key), 413, 'payload_too_large');
    await expectError(await post('batch', { batch: [{ type: 'track', userId: 'u', event: 'E' }, big] }, key), 413, 'payload_too_large');
    const many = Array.from({ length: 2501 }, (_, i) => ({ type: 'track', userId: 'u', event: 'E', messageId: `m${i}` }));
    await expectError(await post('batch', { batch: many }, key), 413, 'payload_too_large');
    const wide = Array.from({ length: 40 }, () => ({ type: 'track', userId: 'u', event: 'E', properties: { s: 'y'.repeat(15 * 1024) } }));
    const zipped = gzipSync(JSON.stringify({ batch: wide }));
    expect(zipped.length).toBeLessThan(100 * 1024);
    await expectError(await fetch(v1('batch'), { method: 'POST', headers: { ...key, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: zipped }), 413, 'payload_too_large');
    expect(await events(s.slug)).toEqual([]);
    // Under the limits, 2,500 messages go in at once.
    expect((await post('batch', { batch: many.slice(0, 2500) }, key)).status).toBe(200);
    await waitForLength(s.slug, 2500);
  });

  it('answers 429 with Retry-After beyond the key’s rate limit', async () => {
    const limited = await db().team.create({ data: { slug: uniqueSlug('limited'), name: 'Limited', signingSecret: 'whsec_x', rateLimitPerMinute: 2 } });
    const slug = uniqueSlug('rl');
    const stream = await makeStream(db(), { teamId: limited.id, slug, name: slug });
    const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
    const { key } = await createApiKey({ teamId: limited.id, name: 'w', scopes: ['ingest'], streamId: stream.id, db: db() });
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await post('t', { userId: 'u', event: 'E' }, basic(key));
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectError(last!, 429, 'rate_limited');
  });
});
