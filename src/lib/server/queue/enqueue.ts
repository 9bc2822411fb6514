// Producers. Enqueueing is best effort, PostgreSQL is the source of truth, and the sweep
// re-enqueues whatever a lost job left behind. Fold wake-ups, which follow every append, wait on
// Redis at most REDIS_FAST_PATH_MS: one Redis cannot take at once waits in a bounded buffer, one per
// stream, until Redis answers again.
import { Queue } from 'bullmq';
import { env } from '../env.ts';
import { fastPath, onRedisAnswering, redis, redisAnswering, redisReady } from '../redis.ts';
import { coalescer } from '../coalesce.ts';
import { QUEUES, type JobPayload, type QueueName } from './catalog.ts';
import { shardOf, shardTags } from './shards.ts';

const queues = new Map<string, Queue>();
let tags: { key: string; tags: string[] } | undefined;

/** How many shard queues each queue has (QUEUE_SHARDS). */
export function queueShards(): number {
  return env().QUEUE_SHARDS;
}

/** The BullMQ prefix of a shard: its hash tag in braces, so all of the shard queue's keys share one slot. */
export function queuePrefix(shard = 0): string {
  const { QUEUE_PREFIX, QUEUE_SHARDS } = env();
  const key = `${QUEUE_PREFIX}:${QUEUE_SHARDS}`;
  if (tags?.key !== key) tags = { key, tags: shardTags(QUEUE_PREFIX, QUEUE_SHARDS) };
  const tag = tags.tags[shard];
  if (tag === undefined) throw new RangeError(`No queue shard ${shard}: QUEUE_SHARDS is ${QUEUE_SHARDS}.`);
  return `{${tag}}`;
}

/** One shard queue (shard 0 is the only one on a single Redis by default). */
export function queue(name: QueueName, shard = 0): Queue {
  const prefix = queuePrefix(shard);
  const key = `${prefix}:${name}`;
  let q = queues.get(key);
  if (!q) {
    q = new Queue(name, { connection: redis(), prefix, defaultJobOptions: QUEUES[name].options });
    q.on('error', () => {});
    queues.set(key, q);
  }
  return q;
}

/** The shard a job goes to: the same stream's folds, or the same team's effects, always to one. */
export function shardFor<Q extends QueueName>(name: Q, payload: JobPayload<Q>): number {
  return shardOf((QUEUES[name].shardKey as (job: JobPayload<Q>) => string)(payload), queueShards());
}

/** The shard queue a job belongs on. */
export function queueFor<Q extends QueueName>(name: Q, payload: JobPayload<Q>): Queue {
  return queue(name, shardFor(name, payload));
}

export type FoldTarget = { streamId: string; teamId: string };

/**
 * Wakes the fold worker for a stream. Appends collapse into one waiting job per stream through a
 * deduplication key; the fold processor releases that key as soon as it starts, so an append that
 * lands during a running fold queues one more fold instead of being missed. The key lives in the
 * stream's shard queue, which is always the same one.
 */
export async function wakeFold({ streamId, teamId }: FoldTarget): Promise<boolean> {
  const sent = await fastPath(() => addFoldJob({ streamId, teamId }));
  if (sent.answered && sent.value) return true;
  foldWakes.add(streamId, teamId);
  return false;
}

async function addFoldJob({ streamId, teamId }: FoldTarget): Promise<boolean> {
  try {
    await queueFor('fold', { streamId, teamId }).add('fold', { streamId, teamId }, { deduplication: { id: `fold:${streamId}` } });
    return true;
  } catch {
    return false;
  }
}

// Wake-ups waiting to be sent, one per stream. Sent without the fast path's bound: nothing waits on
// them, and a large backlog after a stall may take Redis a while to take.
const foldWakes = coalescer<string>({
  async send(entries) {
    const sent = await Promise.all(entries.map(([streamId, teamId]) => addFoldJob({ streamId, teamId })));
    return entries.filter((_, i) => !sent[i]);
  },
  held: () => !redisAnswering(),
});
onRedisAnswering(() => foldWakes.resume());

/** Wakes the fold for a stream without waiting: wake-ups are sent one per stream, buffered while Redis cannot take them. */
export function requestFold({ streamId, teamId }: FoldTarget): void {
  foldWakes.add(streamId, teamId);
}

/** Fold wake-ups waiting for Redis, and how many were dropped over the buffer's bound (diagnostics, tests). */
export function foldWakeStats(): { waiting: number; dropped: number } {
  return foldWakes.stats();
}

/** Adds a job with a deterministic id to its shard queue, so the same work enqueued twice runs once. */
export async function enqueue<Q extends QueueName>(name: Q, jobId: string, payload: JobPayload<Q>, delayMs = 0): Promise<boolean> {
  if (!(await redisReady())) return false;
  try {
    await queueFor(name, payload).add(name, payload, { jobId, delay: delayMs > 0 ? delayMs : undefined });
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
