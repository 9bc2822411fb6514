// Verified inbound webhooks: a stream that requires a signature accepts a POST only when its raw
// body is signed with the stream's secret under the stream's scheme. Pure (node:crypto only), and
// run on the bytes as received, before anything is parsed or stored.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError } from '../errors.ts';
import type { SignatureScheme } from '../../schemas/stream-signature.ts';

export type VerifySignatureOptions = {
  scheme: SignatureScheme;
  /** Null only if the row is inconsistent: then nothing verifies (fail closed). */
  secret: string | null;
  headers: Headers;
  body: Uint8Array;
  /** Milliseconds since the epoch; the clock the timestamp is checked against. */
  now?: number;
};

/** How old (or how far ahead) a signed timestamp may be: each scheme's own default. */
export const TOLERANCE_SECONDS: Record<SignatureScheme, number | null> = {
  standard_webhooks: 5 * 60,
  stripe: 5 * 60,
  github: null,
};

/** The headers each scheme signs with (for messages and for CORS). */
export const SIGNATURE_HEADER_NAMES: Record<SignatureScheme, string[]> = {
  standard_webhooks: ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  stripe: ['stripe-signature'],
  github: ['x-hub-signature-256'],
};

function refuse(message: string): never {
  throw new AppError('unauthorized', `${message} Nothing was stored.`);
}

function hmac(key: Buffer | string, ...parts: (string | Uint8Array)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** Constant-time: the lengths are public (a digest's), the bytes are not. */
function same(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

function checkTimestamp(seconds: string | undefined, scheme: SignatureScheme, now: number): void {
  const tolerance = TOLERANCE_SECONDS[scheme];
  if (!seconds || !/^\d{1,12}$/.test(seconds)) refuse('The signature has no valid timestamp.');
  if (tolerance !== null && Math.abs(now / 1000 - Number(seconds)) > tolerance) {
    refuse(`The signature's timestamp is more than ${tolerance / 60} minutes from now (a replay, or a clock that is off).`);
  }
}

/** The key of a Standard Webhooks secret: the base64 after `whsec_`. */
export function standardWebhooksKey(secret: string): Buffer {
  return Buffer.from(secret.startsWith('whsec_') ? secret.slice(6) : secret, 'base64');
}

/** Idempotency keys are at most 255 characters; a longer signed id is kept as its digest. */
function boundedKey(key: string): string {
  return key.length <= 255 ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

/**
 * Throws `unauthorized` (401) unless the request carries a valid signature of `scheme` over `body`,
 * and returns the message's signed idempotency key: what only the sender could have signed, so a
 * captured request replayed (with any unsigned header added or changed) carries the same key.
 * - Standard Webhooks: the `webhook-id`, which is part of the signed content.
 * - Stripe: the signed timestamp and the `v1` signature it matched (`t` and the body, signed).
 * - GitHub: the body's signature. GitHub signs no time and no id (`X-GitHub-Delivery` is not
 *   signed, so a replay could change it): the signed body itself names the delivery.
 *
 * Schemes:
 * - Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>` (any of
 *   several, space-separated), keyed with the secret's base64 part; timestamp within 5 minutes.
 * - Stripe: `Stripe-Signature: t=<ts>,v1=<hex HMAC-SHA256("{t}.{body}")>` keyed with the whole
 *   `whsec_…` string; timestamp within 5 minutes (Stripe's libraries' default).
 * - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(body)>`; GitHub signs no timestamp.
 */
export function verifySignature({ scheme, secret, headers, body, now = Date.now() }: VerifySignatureOptions): string {
  if (!secret) refuse('This stream requires a signature but has no secret set; an admin must set one.');
  if (scheme === 'standard_webhooks') {
    const id = headers.get('webhook-id');
    const timestamp = headers.get('webhook-timestamp') ?? undefined;
    const signatures = headers.get('webhook-signature');
    if (!id || !signatures) refuse('This stream requires a Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`).');
    checkTimestamp(timestamp, scheme, now);
    const expected = hmac(standardWebhooksKey(secret), `${id}.${timestamp}.`, body);
    const ok = signatures.split(' ').some((part) => {
      const [version, value] = part.split(',', 2);
      return version === 'v1' && !!value && same(expected, Buffer.from(value, 'base64'));
    });
    if (!ok) refuse('The Standard Webhooks signature does not match this stream\'s secret.');
    return boundedKey(`webhook-id:${id}`);
  }
  if (scheme === 'stripe') {
    const header = headers.get('stripe-signature');
    if (!header) refuse('This stream requires a Stripe signature (`Stripe-Signature`).');
    const pairs = header.split(',').map((kv) => kv.trim().split('=', 2) as [string, string | undefined]);
    const timestamp = pairs.find(([k]) => k === 't')?.[1];
    const given = pairs.filter(([k, v]) => k === 'v1' && v).map(([, v]) => v!);
    if (given.length === 0) refuse('The Stripe-Signature header has no `v1` signature.');
    checkTimestamp(timestamp, scheme, now);
    const expected = hmac(secret, `${timestamp}.`, body);
    if (!given.some((hex) => /^[0-9a-f]+$/i.test(hex) && same(expected, Buffer.from(hex, 'hex')))) refuse('The Stripe signature does not match this stream\'s secret.');
    return `stripe:${timestamp}.${expected.toString('hex')}`;
  }
  const header = headers.get('x-hub-signature-256');
  if (!header) refuse('This stream requires a GitHub signature (`X-Hub-Signature-256`).');
  const hex = /^sha256=([0-9a-f]{64})$/i.exec(header.trim())?.[1];
  const expected = hmac(secret, body);
  if (!hex || !same(expected, Buffer.from(hex, 'hex'))) refuse('The GitHub signature does not match this stream\'s secret.');
  return `github:${expected.toString('hex')}`;
}
