// Inbound signatures, signed by each scheme's own library or documented algorithm: Standard Webhooks
// (`standardwebhooks`), Stripe (`stripe`'s generateTestHeaderString), GitHub (HMAC-SHA256, `sha256=` hex).
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import Stripe from 'stripe';
import { verifySignature } from '../../src/lib/server/auth/verify-signature.ts';
import { AppError } from '../../src/lib/server/errors.ts';
import type { SignatureScheme } from '../../src/lib/schemas/stream-signature.ts';

const body = Buffer.from(JSON.stringify({ id: 'evt_1', type: 'invoice.paid', amount: 4200, note: 'café ✓' }));
const tampered = Buffer.from(body.toString().replace('4200', '4201'));
const now = Date.UTC(2026, 0, 1, 12);
const SECRETS: Record<SignatureScheme, string> = {
  standard_webhooks: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  stripe: 'whsec_test_secret_from_stripe_dashboard',
  github: 'a github secret',
};
const stripe = new Stripe('sk_test_unused');

/** Headers as each scheme's sender makes them, for `payload` at `at` (ms). */
function signed(scheme: SignatureScheme, payload: Buffer, at = now, secret = SECRETS[scheme]): Headers {
  if (scheme === 'standard_webhooks') {
    const seconds = Math.floor(at / 1000);
    const signature = new Webhook(secret).sign('msg_1', new Date(seconds * 1000), payload.toString());
    return new Headers({ 'webhook-id': 'msg_1', 'webhook-timestamp': String(seconds), 'webhook-signature': signature });
  }
  if (scheme === 'stripe') {
    return new Headers({ 'stripe-signature': stripe.webhooks.generateTestHeaderString({ payload: payload.toString(), secret, timestamp: Math.floor(at / 1000) }) });
  }
  return new Headers({ 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}` });
}

function outcome(scheme: SignatureScheme, headers: Headers, payload = body, at = now, secret: string | null = SECRETS[scheme]): string {
  try {
    verifySignature({ scheme, secret, headers, body: payload, now: at });
    return 'ok';
  } catch (e) {
    return e instanceof AppError ? `${e.status}` : String(e);
  }
}

const SCHEMES: SignatureScheme[] = ['standard_webhooks', 'stripe', 'github'];

describe.each(SCHEMES)('%s', (scheme) => {
  it('accepts a body signed with the stream secret', () => expect(outcome(scheme, signed(scheme, body))).toBe('ok'));
  it('refuses a changed body', () => expect(outcome(scheme, signed(scheme, body), tampered)).toBe('401'));
  it('refuses another secret', () => expect(outcome(scheme, signed(scheme, body, now, scheme === 'standard_webhooks' ? 'whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY' : 'another secret'))).toBe('401'));
  it('refuses a missing signature', () => expect(outcome(scheme, new Headers())).toBe('401'));
  it('refuses when the stream has no secret (fail closed)', () => expect(outcome(scheme, signed(scheme, body), body, now, null)).toBe('401'));
});

describe('timestamp tolerance follows each scheme', () => {
  it.each([
    ['standard_webhooks', 4 * 60_000, 'ok'],
    ['standard_webhooks', 6 * 60_000, '401'],
    ['standard_webhooks', -6 * 60_000, '401'],
    ['stripe', 4 * 60_000, 'ok'],
    ['stripe', 6 * 60_000, '401'],
    ['github', 30 * 24 * 3600_000, 'ok'],
  ] as const)('%s signed %i ms before now: %s', (scheme, age, expected) => {
    expect(outcome(scheme, signed(scheme, body, now - age))).toBe(expected);
  });
});

describe('header forms', () => {
  it('takes any one of several Standard Webhooks signatures (secret rotation)', () => {
    const h = signed('standard_webhooks', body);
    h.set('webhook-signature', `v1,${Buffer.alloc(32).toString('base64')} ${h.get('webhook-signature')}`);
    expect(outcome('standard_webhooks', h)).toBe('ok');
  });
  it('refuses a Standard Webhooks signature of another version or a truncated one', () => {
    const sig = signed('standard_webhooks', body).get('webhook-signature')!;
    expect(outcome('standard_webhooks', new Headers({ ...Object.fromEntries(signed('standard_webhooks', body)), 'webhook-signature': sig.replace('v1,', 'v2,') }))).toBe('401');
    expect(outcome('standard_webhooks', new Headers({ ...Object.fromEntries(signed('standard_webhooks', body)), 'webhook-signature': sig.slice(0, -8) }))).toBe('401');
  });
  it('refuses a Stripe header with only a v0 signature, or no timestamp', () => {
    const header = signed('stripe', body).get('stripe-signature')!;
    expect(outcome('stripe', new Headers({ 'stripe-signature': header.replace('v1=', 'v0=') }))).toBe('401');
    expect(outcome('stripe', new Headers({ 'stripe-signature': header.replace(/t=\d+,/, '') }))).toBe('401');
  });
  it('refuses GitHub’s old SHA-1 header alone', () => {
    expect(outcome('github', new Headers({ 'x-hub-signature': `sha1=${createHmac('sha1', SECRETS.github).update(body).digest('hex')}` }))).toBe('401');
  });
});

describe('the signed idempotency key', () => {
  const key = (scheme: SignatureScheme, headers: Headers, payload = body) => verifySignature({ scheme, secret: SECRETS[scheme], headers, body: payload, now });

  it('is the same for a request replayed with unsigned headers added or changed', () => {
    for (const scheme of SCHEMES) {
      const h = signed(scheme, body);
      const replay = new Headers(h);
      replay.set('idempotency-key', 'x1');
      replay.set('x-github-delivery', 'a-new-delivery-id');
      expect(key(scheme, replay), scheme).toBe(key(scheme, h));
    }
  });

  it('is the signed id for Standard Webhooks, whatever Idempotency-Key says', () => {
    const h = signed('standard_webhooks', body);
    h.set('idempotency-key', 'x1');
    expect(key('standard_webhooks', h)).toBe('webhook-id:msg_1');
  });

  it('differs between two Stripe deliveries signed at different times, and between two GitHub bodies', () => {
    expect(key('stripe', signed('stripe', body, now))).not.toBe(key('stripe', signed('stripe', body, now - 1000)));
    const other = Buffer.from(JSON.stringify({ id: 'evt_2' }));
    expect(key('github', signed('github', other), other)).not.toBe(key('github', signed('github', body)));
  });
});
