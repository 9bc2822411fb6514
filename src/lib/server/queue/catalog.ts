// The typed job catalog: queue names, payload schemas, retry policies and shard keys in one place.
// Payloads carry ids, and the team's id so workers can share their slots fairly among teams. Every
// queue is split into QUEUE_SHARDS shard queues (queue/shards.ts); a job goes to the shard of its
// `shardKey`: a stream's folds always to one shard (its one-fold-at-a-time key lives there), an
// effect's attempts to its team's.
import { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';

export const FoldJob = z.object({ streamId: z.string().uuid(), teamId: z.string().uuid() });
// An effect is found by (streamId, effectId), its key, so its every statement stays on one shard
// (docs/scaling-citus.md). `streamId` is optional only for jobs queued before it was added: those
// find their stream once, by team (deliver-effect.ts, `resolveStreamId`).
export const EffectJob = z.object({ effectId: z.string().min(1), teamId: z.string().uuid(), streamId: z.string().uuid().optional() });
export const PreviewJob = z.object({ previewId: z.string().uuid(), teamId: z.string().uuid(), streamId: z.string().uuid() });

export const QUEUES = {
  fold: {
    payload: FoldJob,
    shardKey: (job: z.infer<typeof FoldJob>) => job.streamId,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  deliver: {
    payload: EffectJob,
    shardKey: (job: z.infer<typeof EffectJob>) => job.teamId,
    // Delivery schedules its own retries from the effect row; a BullMQ retry covers worker crashes.
    options: { attempts: 3, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  timers: {
    payload: EffectJob,
    shardKey: (job: z.infer<typeof EffectJob>) => job.teamId,
    options: { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: 1000 },
  },
  preview: {
    payload: PreviewJob,
    shardKey: (job: z.infer<typeof PreviewJob>) => job.teamId,
    options: { attempts: 2, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: true, removeOnFail: 100 },
  },
} as const satisfies Record<string, { payload: z.ZodType; shardKey: (job: never) => string; options: DefaultJobOptions }>;

export type QueueName = keyof typeof QUEUES;
export type JobPayload<Q extends QueueName> = z.infer<(typeof QUEUES)[Q]['payload']>;
