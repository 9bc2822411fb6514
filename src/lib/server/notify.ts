// Cross-process wake-ups over Redis pub/sub: "stream X grew to n", "reducer Y folded n". Waiters
// read PostgreSQL when a message says there is something new, and otherwise only every few seconds
// (SAFETY_POLL_MS), so a lost message (or Redis down) costs latency, never correctness.
// On a Redis Cluster the channels are sharded (SPUBLISH/SSUBSCRIBE, Redis 7): each channel lives on
// the master of its slot, so the messages spread over the shards instead of every node relaying
// every message; ioredis keeps one subscriber connection per master (`shardedSubscribers`).
import { Cluster } from 'ioredis';
import { createRedis, redis, redisKey, redisReady, type RedisClient } from './redis.ts';

type Listener = (message: string) => void;

const listeners = new Map<string, Set<Listener>>();
/** Channels with no listener left, unsubscribed after a quiet while (a waiter per request would otherwise cost a SUBSCRIBE and an UNSUBSCRIBE each). */
const idle = new Map<string, NodeJS.Timeout>();
// Each subscribed channel's confirmation from Redis (settled either way), so a watcher can wait for it.
const confirmed = new Map<string, Promise<void>>();
const IDLE_UNSUBSCRIBE_MS = 30_000;
let subscriber: RedisClient | undefined;
const healthWatchers = new Set<(healthy: boolean) => void>();

export function channelFor(kind: 'appended' | 'folded' | 'invalidate' | 'ack', id: string): string {
  return redisKey(kind, id);
}

/** How many subscribers got the message; 0 also when Redis could not take it. */
export async function publish(channel: string, message: string): Promise<number> {
  return (await redisReady()) ? publishOn(redis(), channel, message).catch(() => 0) : 0;
}

/** Whether Redis took the message (a publish nobody hears is still sent). */
export async function publishSent(channel: string, message: string): Promise<boolean> {
  return (await redisReady()) && publishOn(redis(), channel, message).then(() => true, () => false);
}

function publishOn(r: RedisClient, channel: string, message: string): Promise<number> {
  // Both answer how many subscribers got the message (for SPUBLISH: those on the channel's shard).
  return r instanceof Cluster ? r.spublish(channel, message).then(Number) : r.publish(channel, message);
}

function ensureSubscriber(): RedisClient {
  if (!subscriber) {
    const s = createRedis('subscriber');
    subscriber = s;
    const deliver = (channel: string, message: string) => {
      for (const listener of listeners.get(channel) ?? []) listener(message);
    };
    // ioredis re-subscribes by itself after a reconnect (or a failover); watchers learn when
    // messages may have been missed.
    const health = (healthy: boolean) => () => healthWatchers.forEach((w) => w(healthy));
    if (s instanceof Cluster) {
      s.on('smessage', deliver);
      // A node left (a master died, or a connection to it): what its shard carried meanwhile is
      // lost. 'subscribersReady' follows once the subscribers match the new topology.
      s.on('-node', health(false));
      s.on('subscribersReady', health(true));
    } else {
      s.on('message', deliver);
      s.on('ready', health(true));
      for (const event of ['close', 'reconnecting', 'end']) s.on(event, health(false));
    }
  }
  return subscriber;
}

function subscribeOn(s: RedisClient, channel: string): Promise<unknown> {
  return s instanceof Cluster ? s.ssubscribe(channel) : s.subscribe(channel);
}

function unsubscribeOn(s: RedisClient, channel: string): Promise<unknown> {
  // Always by name: a sharded unsubscribe without channels fails (ioredis#2133).
  return s instanceof Cluster ? s.sunsubscribe(channel) : s.unsubscribe(channel);
}

/** Calls `listener` for each message on `channel`; returns the unsubscribe. */
export function subscribe(channel: string, listener: Listener): () => void {
  let set = listeners.get(channel);
  if (!set) {
    set = new Set();
    listeners.set(channel, set);
    confirmed.set(
      channel,
      subscribeOn(ensureSubscriber(), channel).then(
        () => undefined,
        () => undefined,
      ),
    );
  }
  clearTimeout(idle.get(channel));
  idle.delete(channel);
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && listeners.get(channel) === set && !idle.has(channel)) {
      const timer = setTimeout(() => {
        idle.delete(channel);
        if (listeners.get(channel)?.size === 0) {
          listeners.delete(channel);
          confirmed.delete(channel);
          if (subscriber) unsubscribeOn(subscriber, channel).catch(() => {});
        }
      }, IDLE_UNSUBSCRIBE_MS);
      timer.unref();
      idle.set(channel, timer);
    }
  };
}

/**
 * A subscription for the life of the process, with its health: `onHealth(true)` once the channel is
 * subscribed, `onHealth(false)` whenever the connection drops (messages sent meanwhile are lost).
 */
export function subscribeForever(channel: string, listener: Listener, onHealth: (healthy: boolean) => void): void {
  const s = ensureSubscriber();
  let set = listeners.get(channel);
  if (!set) listeners.set(channel, (set = new Set()));
  set.add(listener);
  // Only the latest answer counts: a confirmation still pending from before a drop says nothing
  // about the messages sent since.
  let generation = 0;
  const confirm = () => {
    const mine = ++generation;
    subscribeOn(s, channel).then(
      () => mine === generation && onHealth(true),
      () => mine === generation && onHealth(false),
    );
  };
  healthWatchers.add((healthy) => {
    if (healthy) return confirm();
    generation++;
    onHealth(false);
    // On a cluster a node may leave without the subscribers changing (a replica): ask again rather
    // than wait for a 'subscribersReady' that may not come. (The request waits out a failover.)
    if (s instanceof Cluster) confirm();
  });
  confirm();
}

/** How often a waiter re-reads PostgreSQL when no message arrives. */
export const SAFETY_POLL_MS = 5_000;

export type Watch = {
  /** The next message (the oldest not yet read); null after `maxMs` or on abort, whichever comes first. */
  next(signal?: AbortSignal, maxMs?: number): Promise<string | null>;
  close(): void;
};

/**
 * Every message on `channel` from now on, kept until read (the latest 64). A waiter watches first and
 * reads PostgreSQL second, so a notification sent in between is not lost: reading first and
 * subscribing after left a window where a fold or an append could finish unheard, and the waiter
 * slept until its safety poll. Resolves once Redis has confirmed the subscription, or after
 * `confirmMs` (Redis slow or down: the waiter's safety poll covers that case).
 */
export async function watch(channel: string, confirmMs = 1_000): Promise<Watch> {
  const queue: string[] = [];
  let waiting: ((message: string | null) => void) | null = null;
  const off = subscribe(channel, (message) => {
    if (waiting) return waiting(message);
    queue.push(message);
    if (queue.length > 64) queue.shift();
  });
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([confirmed.get(channel), new Promise<void>((resolve) => (timer = setTimeout(resolve, confirmMs)))]);
  clearTimeout(timer);
  return {
    next(signal, maxMs = 1_000) {
      if (queue.length) return Promise.resolve(queue.shift()!);
      if (signal?.aborted) return Promise.resolve(null);
      return new Promise((resolve) => {
        const done = (message: string | null) => {
          clearTimeout(wait);
          signal?.removeEventListener('abort', aborted);
          waiting = null;
          resolve(message);
        };
        const aborted = () => done(null);
        const wait = setTimeout(aborted, maxMs);
        signal?.addEventListener('abort', aborted, { once: true });
        waiting = done;
      });
    },
    close: off,
  };
}

export async function closeNotify(): Promise<void> {
  listeners.clear();
  for (const timer of idle.values()) clearTimeout(timer);
  idle.clear();
  healthWatchers.clear();
  const s = subscriber;
  subscriber = undefined;
  await s?.quit().catch(() => s.disconnect());
}
