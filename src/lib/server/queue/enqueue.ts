// Producers. Enqueueing is best effort and never waits for Redis: a wake-up is tried only while the
// producer connection is up, and PostgreSQL is the source of truth — the sweep re-enqueues whatever
// a lost wake-up left behind.
import { Queue } from 'bullmq';
import { env } from '../env.ts';
import { redis, redisReady } from '../redis.ts';
import { coalescer } from '../coalesce.ts';
import { QUEUES, type JobPayload, type QueueName } from './catalog.ts';

const queues = new Map<QueueName, Queue>();

export function queuePrefix(): string {
  return `{${env().QUEUE_PREFIX}}`;
}

export function queue(name: QueueName): Queue {
  let q = queues.get(name);
  if (!q) {
    q = new Queue(name, { connection: redis(), prefix: queuePrefix(), defaultJobOptions: QUEUES[name].options });
    q.on('error', () => {});
    queues.set(name, q);
  }
  return q;
}

export type FoldTarget = { streamId: string; teamId: string };

/**
 * Wakes the fold worker for a stream. Appends collapse into one waiting job per stream through a
 * deduplication key; the fold processor releases that key as soon as it starts, so an append that
 * lands during a running fold queues one more fold instead of being missed.
 */
export async function wakeFold({ streamId, teamId }: FoldTarget): Promise<boolean> {
  if (!(await redisReady())) return false;
  try {
    await queue('fold').add('fold', { streamId, teamId }, { deduplication: { id: `fold:${streamId}` } });
    return true;
  } catch {
    return false;
  }
}

const foldWakes = coalescer<string>((entries) => Promise.all(entries.map(([streamId, teamId]) => wakeFold({ streamId, teamId }))));

/** Wakes the fold for a stream without waiting: wake-ups within one tick are sent as one per stream. */
export function requestFold({ streamId, teamId }: FoldTarget): void {
  foldWakes.add(streamId, teamId);
}

/** Adds a job with a deterministic id, so the same work enqueued twice runs once. */
export async function enqueue<Q extends QueueName>(name: Q, jobId: string, payload: JobPayload<Q>, delayMs = 0): Promise<boolean> {
  if (!(await redisReady())) return false;
  try {
    await queue(name).add(name, payload, { jobId, delay: delayMs > 0 ? delayMs : undefined });
    return true;
  } catch {
    return false;
  }
}

export async function closeQueues(): Promise<void> {
  await foldWakes.drain();
  await Promise.all([...queues.values()].map((q) => q.close().catch(() => {})));
  queues.clear();
}
