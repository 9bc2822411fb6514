// Webhook effects against a real receiver on loopback: Standard Webhooks signatures, retries with
// the same webhook-id, 410, redirects, timeouts, the private-address guard, and idempotency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, insertEffect, startEffectWorkers, startReceiver, waitForEffect, type EffectFixture } from '../helpers/effects.ts';

Object.assign(process.env, { RETRY_SCHEDULE: '0,200,200', WEBHOOK_TIMEOUT_MS: '700', ALLOW_PRIVATE_WEBHOOKS: 'true' });
await useOwnDatabase('effwh');
const { db } = await import('../../src/lib/server/db/client.ts');
const { resetEnv } = await import('../../src/lib/server/env.ts');
const { deliverEffect } = await import('../../src/lib/server/effects/deliver-effect.ts');

let f: EffectFixture;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let workers: Awaited<ReturnType<typeof startEffectWorkers>>;

beforeAll(async () => {
  f = await effectFixture(db());
  receiver = await startReceiver(f.secret);
  workers = await startEffectWorkers();
});
afterAll(async () => {
  await workers?.close();
  await receiver?.close();
});

const hook = (path: string, extra: object = {}) => ({ url: `${receiver.url}${path}`, method: 'POST', headers: {}, body: { path }, ...extra });

describe('webhook effects', () => {
  it('signs every attempt, retries a 500 with the same webhook-id, and records both attempts', async () => {
    let calls = 0;
    receiver.on('/flaky', (_r, res) => (++calls === 1 ? res.writeHead(500).end('database on fire') : res.writeHead(204).end()));
    const id = await insertEffect(db(), f, 'webhook', hook('/flaky', { method: 'PUT', headers: { 'X-Custom': 'yes', 'webhook-id': 'forged' }, body: { n: 1, s: 'é' } }));
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'delivered', attempts: 2, lastError: null });
    expect(effect.deliveredAt).toBeInstanceOf(Date);
    const got = receiver.at('/flaky');
    expect(got).toHaveLength(2);
    for (const r of got) {
      expect(r.verified, r.error).toBe(true);
      expect(r.method).toBe('PUT');
      expect(r.headers['webhook-id']).toBe(id);
      expect(r.headers['x-custom']).toBe('yes');
      expect(r.headers['content-type']).toBe('application/json');
      expect(JSON.parse(r.body)).toEqual({ n: 1, s: 'é' });
    }
    expect(effect.attemptLog.map((a) => a.statusCode)).toEqual([500, 204]);
    expect(effect.attemptLog[0]).toMatchObject({ error: 'HTTP 500', responseExcerpt: 'database on fire' });
    expect(effect.attemptLog[0].durationMs).toBeGreaterThanOrEqual(0);
  });

  it('does not send a delivered effect again', async () => {
    const id = await insertEffect(db(), f, 'webhook', hook('/once'));
    await waitForEffect(db(), id);
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toEqual({ outcome: 'skipped', status: 'delivered' });
    expect(receiver.at('/once')).toHaveLength(1);
  });

  it('lets one of two racing jobs attempt', async () => {
    const id = await insertEffect(db(), f, 'webhook', hook('/race'), { enqueue: false });
    const outcomes = await Promise.all([deliverEffect({ streamId: f.streamId, effectId: id }), deliverEffect({ streamId: f.streamId, effectId: id }), deliverEffect({ streamId: f.streamId, effectId: id })]);
    expect(outcomes.filter((o) => o.outcome === 'delivered')).toHaveLength(1);
    expect(receiver.at('/race')).toHaveLength(1);
  });

  it('stops at 410 Gone', async () => {
    receiver.on('/gone', (_r, res) => res.writeHead(410).end('unsubscribed'));
    const id = await insertEffect(db(), f, 'webhook', hook('/gone'));
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'failed', attempts: 1 });
    expect(effect.lastError).toMatch(/410/);
    await new Promise((r) => setTimeout(r, 600));
    expect(receiver.at('/gone')).toHaveLength(1);
  });

  it('does not follow redirects, and fails after the last scheduled attempt', async () => {
    receiver.on('/moved', (_r, res) => res.writeHead(302, { location: `${receiver.url}/target` }).end());
    const id = await insertEffect(db(), f, 'webhook', hook('/moved'));
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'failed', attempts: 3 });
    expect(effect.lastError).toMatch(/Redirect to .*\/target not followed/);
    expect(effect.attemptLog.map((a) => a.statusCode)).toEqual([302, 302, 302]);
    expect(receiver.at('/moved')).toHaveLength(3);
    expect(receiver.at('/target')).toHaveLength(0);
  });

  it('records timeouts as failed attempts', async () => {
    receiver.on('/slow', () => {}); // never answers
    const id = await insertEffect(db(), f, 'webhook', hook('/slow'));
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'failed', attempts: 3, lastError: 'Timed out after 700 ms.' });
    for (const a of effect.attemptLog) {
      expect(a.statusCode).toBeNull();
      expect(a.durationMs).toBeGreaterThanOrEqual(650);
    }
  });

  it('refuses loopback destinations when private webhooks are not allowed, without retrying', async () => {
    process.env.ALLOW_PRIVATE_WEBHOOKS = 'false';
    resetEnv();
    try {
      const id = await insertEffect(db(), f, 'webhook', hook('/private'), { enqueue: false });
      expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toMatchObject({ outcome: 'failed', attempts: 1 });
      const effect = await waitForEffect(db(), id);
      expect(effect.lastError).toMatch(/Refused: 127\.0\.0\.1 is a loopback address/);
      expect(effect.attemptLog).toHaveLength(1);
      expect(effect.attemptLog[0]).toMatchObject({ statusCode: null });
      const named = await insertEffect(db(), f, 'webhook', hook('/private', { url: receiver.url.replace('127.0.0.1', 'localhost') + '/private' }), { enqueue: false });
      await deliverEffect({ streamId: f.streamId, effectId: named });
      expect((await waitForEffect(db(), named)).lastError).toMatch(/localhost resolves to .*loopback/);
      expect(receiver.at('/private')).toHaveLength(0);
    } finally {
      process.env.ALLOW_PRIVATE_WEBHOOKS = 'true';
      resetEnv();
    }
  });

  it('fails a webhook whose payload is not one, without retrying', async () => {
    const id = await insertEffect(db(), f, 'webhook', { url: 'ftp://example.com/x' });
    const effect = await waitForEffect(db(), id);
    expect(effect).toMatchObject({ status: 'failed', attempts: 1 });
    expect(effect.lastError).toMatch(/Only http and https/);
  });

  it('leaves suppressed effects alone', async () => {
    const id = await insertEffect(db(), f, 'webhook', hook('/suppressed'), { status: 'suppressed' });
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toEqual({ outcome: 'skipped', status: 'suppressed' });
    expect(receiver.at('/suppressed')).toHaveLength(0);
  });
});
