// A due `schedule()` appends its event to the reducer's stream through the one append path, with the
// effect id as idempotency key: a timer whose attempt runs twice appends once.
import type { Db } from '../db/client.ts';
import { appendEvents } from '../streams/append-events.ts';
import type { TimerPayload } from './kinds/timer.ts';
import type { WebhookAttempt } from './deliver-webhook.ts';

export async function fireTimer({ effectId, streamId, payload, db }: { effectId: string; streamId: string; payload: TimerPayload; db: Db }): Promise<WebhookAttempt> {
  const appended = await appendEvents({ streamId, bodies: [payload.event], idempotency: { key: effectId, scope: 'timer' }, db });
  return { result: 'delivered', responseExcerpt: `Appended as element ${appended.first}${appended.replayed ? ' (by an earlier run of this timer)' : ''}.` };
}
