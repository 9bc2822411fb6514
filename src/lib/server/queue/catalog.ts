// The typed job catalog: queue names, payload schemas and retry policies in one place. Payloads
// carry ids, and the team's id so workers can share their slots fairly among teams.
import { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';

export const FoldJob = z.object({ streamId: z.string().uuid(), teamId: z.string().uuid() });
export const EffectJob = z.object({ effectId: z.string().min(1), teamId: z.string().uuid() });
export const PreviewJob = z.object({ previewId: z.string().uuid(), teamId: z.string().uuid() });

export const QUEUES = {
  fold: {
    payload: FoldJob,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  deliver: {
    payload: EffectJob,
    // Delivery schedules its own retries from the effect row; a BullMQ retry covers worker crashes.
    options: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  timers: {
    payload: EffectJob,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  preview: {
    payload: PreviewJob,
    options: { attempts: 2, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: 100 },
  },
} as const satisfies Record<string, { payload: z.ZodType; options: DefaultJobOptions }>;

export type QueueName = keyof typeof QUEUES;
export type JobPayload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]['payload']>;
