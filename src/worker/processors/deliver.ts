// `deliver` and `timers` jobs: one attempt of an effect. Retries are scheduled from the row
// (deliverEffect enqueues the next attempt); BullMQ's own retries only cover a crashed attempt.
import { deliverEffect, resolveStreamId, type DeliverEffectResult } from '../../lib/server/effects/deliver-effect.ts';
import type { JobPayload } from '../../lib/server/queue/catalog.ts';

export async function deliverProcessor({ effectId, teamId, streamId }: JobPayload<'deliver' | 'timers'>): Promise<DeliverEffectResult> {
  const stream = streamId ?? (await resolveStreamId({ effectId, teamId }));
  if (!stream) return { outcome: 'missing' };
  return deliverEffect({ streamId: stream, effectId });
}
