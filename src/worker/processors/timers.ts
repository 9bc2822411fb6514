// `timers` jobs: a due schedule() appends its event to the stream (idempotency key = effect id,
// so a timer run twice appends once). The same attempt bookkeeping as deliveries.
import type { Job } from 'bullmq';
import { TimerJob } from '../../lib/server/queue/catalog.ts';
import { deliverEffect, type DeliverEffectResult } from '../../lib/server/effects/deliver-effect.ts';

export async function timersProcessor(job: Job): Promise<DeliverEffectResult> {
  const { effectId } = TimerJob.parse(job.data);
  return deliverEffect({ effectId });
}
