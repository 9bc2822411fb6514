// `deliver` and `timers` jobs: one attempt of an effect. Retries are scheduled from the row
// (deliverEffect enqueues the next attempt); BullMQ's own retries only cover a crashed attempt.
import { deliverEffect, type DeliverEffectResult } from '../../lib/server/effects/deliver-effect.ts';
import type { JobPayload } from '../../lib/server/queue/catalog.ts';

export async function deliverProcessor({ effectId }: JobPayload<'deliver' | 'timers'>): Promise<DeliverEffectResult> {
  return deliverEffect({ effectId });
}
