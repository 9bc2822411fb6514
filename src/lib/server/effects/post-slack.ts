// A Slack-compatible incoming webhook: `{"text": …}` posted like any webhook (signed, checked
// destination, timeout), so it is retried and recorded the same way.
import { deliverWebhook, type WebhookAttempt } from './deliver-webhook.ts';
import type { SlackPayload } from './kinds/slack.ts';

export function postSlack({ effectId, secret, payload, timeoutMs }: { effectId: string; secret: string; payload: SlackPayload; timeoutMs: number }): Promise<WebhookAttempt> {
  return deliverWebhook({ id: effectId, secret, timeoutMs, payload: { url: payload.url, method: 'POST', headers: {}, body: { text: payload.text } } });
}
