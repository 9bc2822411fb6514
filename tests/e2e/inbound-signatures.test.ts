// Verified inbound webhooks over real HTTP: a stream set (through the management API) to require
// Standard Webhooks, Stripe or GitHub signatures takes signed POSTs without a key, and refuses
// anything unsigned or badly signed with 401, storing nothing — keyed or not.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { makeTeam, uniqueSlug, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, expectError } from '../helpers/http.ts';

const own = await useOwnDatabase('signatures');
const { db } = await import('../../src/lib/server/db/client.ts');

let web: Running;
let team: TeamFixture;
let manage: string;
let rw: string;
beforeAll(async () => {
  web = await startWeb(own.env);
  team = await makeTeam(db());
  manage = await team.key(['manage']);
  rw = await team.key(['ingest', 'read']);
});
afterAll(() => web?.stop());

async function call(path: string, input: unknown, method: 'GET' | 'POST' = 'POST') {
  const json = JSON.stringify({ json: input });
  const res =
    method === 'GET'
      ? await fetch(`${web.url}/api/trpc/${path}?input=${encodeURIComponent(json)}`, { headers: bearer(manage) })
      : await fetch(`${web.url}/api/trpc/${path}`, { method: 'POST', headers: { ...bearer(manage), 'content-type': 'application/json' }, body: json });
  const body = await res.json();
  return { status: res.status, data: body.result?.data?.json, error: body.error?.json };
}

/** A new stream requiring `scheme`; returns its URL and the secret in force. */
async function signedStream(scheme: string, secret?: string) {
  const slug = uniqueSlug(scheme.replace('_', '-'));
  expect((await call('stream.create', { team: team.slug, stream: slug })).status).toBe(200);
  const set = await call('stream.setSignature', { team: team.slug, stream: slug, scheme, secret });
  expect(set.status).toBe(200);
  return { slug, url: `${web.url}/s/${team.slug}/${slug}`, secret: set.data.secret as string };
}

const length = async (url: string) => (await fetch(`${url}/length`, { headers: bearer(rw) })).json();
const post = (url: string, body: string, headers: Record<string, string>) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('Standard Webhooks', () => {
  const sign = (secret: string, body: string, id = 'msg_2Lh9', at = new Date()) => {
    const timestamp = new Date(Math.floor(at.getTime() / 1000) * 1000);
    return { 'webhook-id': id, 'webhook-timestamp': String(timestamp.getTime() / 1000), 'webhook-signature': new Webhook(secret).sign(id, timestamp, body) };
  };

  it('takes a signed POST without a key, and refuses unsigned, wrongly signed, stale and keyed-but-unsigned ones', async () => {
    const s = await signedStream('standard_webhooks');
    expect(s.secret).toMatch(/^whsec_/);
    const body = JSON.stringify({ type: 'invoice.paid', amount: 4200 });
    const ok = await post(s.url, body, sign(s.secret, body));
    expect(ok.status).toBe(201);
    expect(await ok.json()).toEqual({ index: 0, length: 1 });

    expect((await expectError(await post(s.url, body, {}), 401, 'unauthorized')).message).toMatch(/Standard Webhooks signature/);
    await expectError(await post(s.url, body.replace('4200', '4201'), sign(s.secret, body)), 401, 'unauthorized');
    await expectError(await post(s.url, body, sign('whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=', body)), 401, 'unauthorized');
    await expectError(await post(s.url, body, sign(s.secret, body, 'msg_old', new Date(Date.now() - 10 * 60_000))), 401, 'unauthorized');
    // A key is no way around the signature: ingest keys may be public (forms), signatures are not.
    await expectError(await post(s.url, body, bearer(rw)), 401, 'unauthorized');
    await expectError(await post(`${s.url}/batch`, '[1,2]', bearer(rw)), 401, 'unauthorized');
    expect(await length(s.url)).toBe(1);

    // The sender's retry of the same message (same webhook-id) appends nothing: 200 with the first answer.
    const retry = await post(s.url, body, sign(s.secret, body));
    expect(retry.status).toBe(200);
    expect(await retry.json()).toEqual({ index: 0, length: 1 });

    // Signed and keyed is fine; so is a signed batch.
    expect((await post(s.url, body, { ...sign(s.secret, body, 'msg_2'), ...bearer(rw) })).status).toBe(201);
    expect((await post(`${s.url}/batch`, '[1,2]', sign(s.secret, '[1,2]', 'msg_3'))).status).toBe(201);
    expect(await length(s.url)).toBe(4);
  });
});

describe('Stripe', () => {
  const stripe = new Stripe('sk_test_unused');
  it('verifies Stripe-Signature with the secret from Stripe’s dashboard', async () => {
    const missing = await call('stream.setSignature', { team: team.slug, stream: uniqueSlug('x'), scheme: 'stripe' });
    expect(missing.status).toBe(400);
    const s = await signedStream('stripe', 'whsec_test_0123456789abcdefghijklmnop');
    const body = JSON.stringify({ id: 'evt_1', object: 'event', type: 'checkout.session.completed' });
    const header = (payload: string, timestamp = Math.floor(Date.now() / 1000)) => ({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload, secret: s.secret, timestamp }) });
    expect((await post(s.url, body, header(body))).status).toBe(201);
    await expectError(await post(s.url, body.replace('evt_1', 'evt_2'), header(body)), 401);
    await expectError(await post(s.url, body, header(body, Math.floor(Date.now() / 1000) - 600)), 401);
    await expectError(await post(s.url, body, {}), 401);
    const stored = await (await fetch(`${s.url}/0`, { headers: bearer(rw) })).json();
    expect(stored).toEqual(JSON.parse(body));
    expect(await length(s.url)).toBe(1);
  });
});

describe('GitHub', () => {
  it('verifies X-Hub-Signature-256 (HMAC-SHA256 of the body, `sha256=` hex), with no timestamp', async () => {
    const s = await signedStream('github');
    const body = JSON.stringify({ action: 'opened', issue: { number: 12 } });
    const sig = (payload: string, secret = s.secret) => ({ 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`, 'x-github-event': 'issues' });
    expect((await post(s.url, body, sig(body))).status).toBe(201);
    await expectError(await post(s.url, body, sig(body, 'not the secret')), 401);
    await expectError(await post(s.url, `${body} `, sig(body)), 401);
    await expectError(await post(s.url, body, { 'x-hub-signature': 'sha1=00' }), 401);
    expect(await length(s.url)).toBe(1);
  });
});

describe('managing the signature', () => {
  it('shows the secret to admins only through stream.signature, the scheme in stream.get, and can be switched off', async () => {
    const s = await signedStream('github', 'my own github secret');
    expect((await call('stream.signature', { team: team.slug, stream: s.slug }, 'GET')).data).toEqual({ scheme: 'github', secret: 'my own github secret' });
    const got = await call('stream.get', { team: team.slug, stream: s.slug }, 'GET');
    expect(got.data.signatureScheme).toBe('github');
    expect(JSON.stringify(got.data)).not.toContain('my own github secret');

    // A write key for a signed stream cannot deliver Segment messages: they cannot be signed.
    const writeKey = await team.key(['ingest'], s.slug);
    const segment = await fetch(`${web.url}/v1/track`, { method: 'POST', headers: { ...bearer(writeKey), 'content-type': 'application/json' }, body: JSON.stringify({ userId: 'u', event: 'E' }) });
    await expectError(segment, 401, 'unauthorized');

    expect((await call('stream.setSignature', { team: team.slug, stream: s.slug, scheme: null })).data).toEqual({ scheme: null, secret: null });
    await expectError(await post(s.url, '{}', {}), 401); // back to needing a key
    expect((await post(s.url, '{}', bearer(rw))).status).toBe(201);
    expect((await call('stream.setSignature', { team: team.slug, stream: s.slug, scheme: 'standard_webhooks', secret: 'not base64!' })).status).toBe(400);
  });
});

describe('a captured request replayed appends nothing', () => {
  /** POSTs `headers` again (plus `extra`): 200 with the first answer, and the stream did not grow. */
  async function expectReplayed(url: string, body: string, headers: Record<string, string>, first: unknown, extra: Record<string, string> = {}) {
    const before = await length(url);
    const replay = await post(url, body, { ...headers, ...extra });
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual(first);
    expect(await length(url)).toBe(before);
  }

  it('Standard Webhooks: the signed webhook-id wins over an added Idempotency-Key', async () => {
    const s = await signedStream('standard_webhooks');
    const body = JSON.stringify({ type: 'invoice.paid', amount: 4200 });
    const timestamp = new Date(Math.floor(Date.now() / 1000) * 1000);
    const headers = { 'webhook-id': 'msg_captured', 'webhook-timestamp': String(timestamp.getTime() / 1000), 'webhook-signature': new Webhook(s.secret).sign('msg_captured', timestamp, body) };
    expect((await post(s.url, '1', bearer(rw))).status).toBe(401); // nothing unsigned gets in first
    const first = await post(s.url, body, headers);
    expect(first.status).toBe(201);
    const answer = await first.json();
    await expectReplayed(s.url, body, headers, answer, { 'idempotency-key': 'x1' });
    await expectReplayed(s.url, body, headers, answer, { 'idempotency-key': 'x2', ...bearer(rw) });
    expect(await length(s.url)).toBe(1);
  });

  it('Stripe: the exact request again within its 5 minutes', async () => {
    const s = await signedStream('stripe', 'whsec_test_replay_0123456789abcdef');
    const stripe = new Stripe('sk_test_unused');
    const body = JSON.stringify({ id: 'evt_replayed', object: 'event', type: 'charge.succeeded' });
    const headers = { 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: body, secret: s.secret }) };
    const first = await post(s.url, body, headers);
    expect(first.status).toBe(201);
    await expectReplayed(s.url, body, headers, await first.json(), { 'idempotency-key': 'x1' });
    expect(await length(s.url)).toBe(1);
  });

  it('GitHub: the same signed body again, even under a new X-GitHub-Delivery', async () => {
    const s = await signedStream('github');
    const body = JSON.stringify({ action: 'opened', issue: { number: 13 } });
    const headers = { 'x-hub-signature-256': `sha256=${createHmac('sha256', s.secret).update(body).digest('hex')}`, 'x-github-event': 'issues', 'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
    const first = await post(s.url, body, headers);
    expect(first.status).toBe(201);
    const answer = await first.json();
    await expectReplayed(s.url, body, headers, answer);
    await expectReplayed(s.url, body, headers, answer, { 'x-github-delivery': 'f0000000-0000-4000-8000-000000000000', 'idempotency-key': 'x1' });
    // Another delivery (another body) is appended.
    const next = JSON.stringify({ action: 'closed', issue: { number: 13 } });
    expect((await post(s.url, next, { ...headers, 'x-hub-signature-256': `sha256=${createHmac('sha256', s.secret).update(next).digest('hex')}` })).status).toBe(201);
    expect(await length(s.url)).toBe(2);
  });
});
