// Standard Webhooks signatures (https://www.standardwebhooks.com): HMAC-SHA256 over
// `${id}.${timestamp}.${body}` keyed with the base64 secret after `whsec_`.
import { createHmac } from 'node:crypto';

export type SignWebhookOptions = { secret: string; id: string; timestamp: number; body: string };

/** The three headers a receiver verifies; `timestamp` is in seconds. */
export function signWebhook({ secret, id, timestamp, body }: SignWebhookOptions): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': `v1,${signature}` };
}
