// How each effect kind is delivered: one function per kind (a kind without one is a type error).
// Each gets the payload already validated against its kind's schema and makes one attempt.
import type { Db } from '../db/client.ts';
import { env } from '../env.ts';
import type { EffectKind } from '../../schemas/vocabulary.ts';
import type { EffectPayloads } from './kinds/index.ts';
import { deliverWebhook, type WebhookAttempt } from './deliver-webhook.ts';
import { sendEmail } from './send-email.ts';
import { fireTimer } from './fire-timer.ts';
import { postSlack } from './post-slack.ts';

export type DeliveryInput<K extends EffectKind> = {
  effect: { id: string; teamId: string; streamId: string };
  payload: EffectPayloads[K];
  /** The team's Standard Webhooks signing secret. */
  secret: string;
  db: Db;
};
export type Deliver<K extends EffectKind> = (input: DeliveryInput<K>) => Promise<WebhookAttempt>;

export const DELIVERERS = {
  webhook: ({ effect, payload, secret }) => deliverWebhook({ id: effect.id, secret, payload, timeoutMs: env().WEBHOOK_TIMEOUT_MS }),
  email: async ({ effect, payload, db }) => {
    const sent = await sendEmail({ teamId: effect.teamId, email: payload, effectId: effect.id, db });
    return {
      result: 'delivered',
      responseExcerpt: sent.status === 'sent' ? `Sent through SMTP${sent.messageId ? ` as ${sent.messageId}` : ''}.` : "Stored in the team's outbox (SMTP_URL is not set).",
    };
  },
  timer: ({ effect, payload, db }) => fireTimer({ effectId: effect.id, streamId: effect.streamId, payload, db }),
  slack: ({ effect, payload, secret }) => postSlack({ effectId: effect.id, secret, payload, timeoutMs: env().WEBHOOK_TIMEOUT_MS }),
  // Applied by the fold when recorded; its row is stored delivered and never queued.
  cancel: async () => ({ result: 'delivered', responseExcerpt: 'Applied when folded.' }),
} satisfies { [K in EffectKind]: Deliver<K> };

export function deliverOnce<K extends EffectKind>(kind: K, input: DeliveryInput<K>): Promise<WebhookAttempt> {
  return (DELIVERERS[kind] as Deliver<K>)(input);
}
