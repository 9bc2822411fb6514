// The typed job catalog: queue names, payload schemas and retry policies in one place.
import { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';

export const FoldJob = z.object({ streamId: z.string().uuid() });
export const DeliverJob = z.object({ effectId: z.string().min(1) });
export const TimerJob = z.object({ effectId: z.string().min(1) });

export const QUEUES = {
  fold: {
    payload: FoldJob,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  deliver: {
    payload: DeliverJob,
    // Delivery schedules its own retries from the effect row; a BullMQ retry covers worker crashes.
    options: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  timers: {
    payload: TimerJob,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
} as const satisfies Record<string, { payload: z.ZodType; options: DefaultJobOptions }>;

export type QueueName = keyof typeof QUEUES;
export type JobPayload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]['payload']>;
