// Cross-process wake-ups over Redis pub/sub: "stream X grew to n", "reducer Y folded n". Waiters
// read PostgreSQL when a message says there is something new, and otherwise only every few seconds
// (SAFETY_POLL_MS), so a lost message (or Redis down) costs latency, never correctness.
import type { Redis } from 'ioredis';
import { createRedis, redis, redisKey, redisReady } from './redis.ts';

type Listener = (message: string) => void;

const listeners = new Map<string, Set<Listener>>();
/** Channels with no listener left, unsubscribed after a quiet while (a waiter per request would otherwise cost a SUBSCRIBE and an UNSUBSCRIBE each). */
const idle = new Map<string, NodeJS.Timeout>();
const IDLE_UNSUBSCRIBE_MS = 30_000;
let subscriber: Redis | undefined;
const healthWatchers = new Set<(healthy: boolean) => void>();

export function channelFor(kind: 'appended' | 'folded' | 'invalidate' | 'ack', id: string): string {
  return redisKey(kind, id);
}

export async function publish(channel: string, message: string): Promise<number> {
  if (!(await redisReady())) return 0;
  return redis().publish(channel, message).catch(() => 0);
}

function ensureSubscriber(): Redis {
  if (!subscriber) {
    const s = createRedis('subscriber');
    subscriber = s;
    s.on('message', (channel: string, message: string) => {
      for (const listener of listeners.get(channel) ?? []) listener(message);
    });
    // ioredis re-subscribes by itself after a reconnect; watchers learn when messages may have been missed.
    s.on('ready', () => healthWatchers.forEach((w) => w(true)));
    for (const event of ['close', 'reconnecting', 'end']) s.on(event, () => healthWatchers.forEach((w) => w(false)));
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
          subscriber?.unsubscribe(channel).catch(() => {});
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
  const confirm = () => s.subscribe(channel).then(() => onHealth(true), () => onHealth(false));
  healthWatchers.add((healthy) => (healthy ? void confirm() : onHealth(false)));
  void confirm();
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
  for (const timer of idle.values()) clearTimeout(timer);
  idle.clear();
  healthWatchers.clear();
  const s = subscriber;
  subscriber = undefined;
  await s?.quit().catch(() => s.disconnect());
}
