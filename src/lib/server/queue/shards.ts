// Shard queues: each queue (fold, deliver, timers) is split into N queues, each under a hash tag of
// its own, so that a Redis Cluster serves them from different masters. Pure functions: which shard
// a key belongs to, and the tags.
//
// A queue's keys must share one slot (BullMQ's scripts touch many at once), so a queue is as big as
// one master can make it; N shards make N such queues. A cluster assigns slots to masters in ranges
// (`redis-cli --cluster create` and managed services give each master an equal, contiguous share),
// so each shard's tag is chosen to land in the middle of its own N-th of the 16384 slots: with N a
// multiple of the masters, every master serves the same number of shards.
import calculateSlot from 'cluster-key-slot';

export const CLUSTER_SLOTS = 16384;

/** The shard (0 … shards-1) of a key: the same key always goes to the same shard. */
export function shardOf(key: string, shards: number): number {
  return shards <= 1 ? 0 : calculateSlot(key) % shards;
}

/**
 * The hash tag of every shard, without braces. One shard keeps the plain prefix (the keys of a
 * single-queue deployment stay where they were); with more, shard i's tag is `prefix/i.k` with the
 * first k that puts its slot in the middle half of the i-th N-th of the slot space.
 */
export function shardTags(prefix: string, shards: number): string[] {
  if (shards <= 1) return [prefix];
  const width = CLUSTER_SLOTS / shards;
  return Array.from({ length: shards }, (_, i) => {
    const [low, high] = [(i + 0.25) * width, (i + 0.75) * width];
    for (let k = 0; ; k++) {
      const tag = `${prefix}/${i}.${k}`;
      const slot = calculateSlot(tag);
      if (slot >= low && slot < high) return tag;
    }
  });
}

/** Slots per worker of each shard so that a process's shards together have about `total`. */
export function concurrencyPerShard(total: number, shards: number): number {
  return Math.max(1, Math.ceil(total / Math.max(1, shards)));
}
