// Cross-process wake-ups over Redis pub/sub: "stream X grew to n", "reducer Y folded n". Waiters
// read PostgreSQL when a message says there is something new, and otherwise only every few seconds
// (SAFETY_POLL_MS), so a lost message (or Redis down) costs latency, never correctness.
import type { Redis } from 'ioredis';
import { createRedis, redis, redisKey, redisReady } from './redis.ts';

type Listener = (message: string) => void;

const listeners = new Map<string, Set<Listener>>();
let subscriber: Redis | undefined;

export function channelFor(kind: 'appended' | 'folded', id: string): string {
  return redisKey(kind, id);
}

export async function publish(channel: string, message: string): Promise<void> {
  if (!(await redisReady())) return;
  await redis().publish(channel, message).catch(() => {});
}

function ensureSubscriber(): Redis {
  if (!subscriber) {
    subscriber = createRedis('subscriber');
    subscriber.on('message', (channel: string, message: string) => {
      for (const listener of listeners.get(channel) ?? []) listener(message);
    });
  }
  return subscriber;
}

/** Calls `listener` for each message on `channel`; returns the unsubscribe. */
export function subscribe(channel: string, listener: Listener): () => void {
  let set = listeners.get(channel);
  if (!set) {
    set = new Set();
    listeners.set(channel, set);
    ensureSubscriber().subscribe(channel).catch(() => {});
  }
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && listeners.get(channel) === set) {
      listeners.delete(channel);
      subscriber?.unsubscribe(channel).catch(() => {});
    }
  };
}

/** How often a waiter re-reads PostgreSQL when no message arrives. */
export const SAFETY_POLL_MS = 5_000;

/** The next message on `channel`; null after `maxMs` or on abort, whichever comes first. */
export function nextMessage(channel: string, signal?: AbortSignal, maxMs = 1_000): Promise<string | null> {
  return new Promise((resolve) => {
    const done = (message: string | null) => {
      clearTimeout(timer);
      off();
      signal?.removeEventListener('abort', aborted);
      resolve(message);
    };
    const aborted = () => done(null);
    const timer = setTimeout(aborted, maxMs);
    const off = subscribe(channel, done);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

export async function closeNotify(): Promise<void> {
  listeners.clear();
  const s = subscriber;
  subscriber = undefined;
  await s?.quit().catch(() => s.disconnect());
}
