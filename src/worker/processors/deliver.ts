// `deliver` jobs: one attempt of a webhook or email effect. Retries are scheduled from the row
// (deliverEffect enqueues the next attempt); BullMQ's own retries only cover a crashed attempt.
import type { Job } from 'bullmq';
import { DeliverJob } from '../../lib/server/queue/catalog.ts';
import { deliverEffect, type DeliverEffectResult } from '../../lib/server/effects/deliver-effect.ts';

export async function deliverProcessor(job: Job): Promise<DeliverEffectResult> {
  const { effectId } = DeliverJob.parse(job.data);
  return deliverEffect({ effectId });
}
