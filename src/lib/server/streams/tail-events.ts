// Live tails: long-polls and Server-Sent Events wait here for a stream to grow. Appends publish
// the new length on Redis after commit; every waiter also re-reads PostgreSQL on a short timer,
// so a lost message (or Redis down) costs latency, never an event.
import type { Redis } from 'ioredis';
import { createRedis, redis, redisKey } from '../redis.ts';
import { streamLength } from './read-events.ts';

const POLL_MS = 1_000;
type Listener = (length: number) => void;

const listeners = new Map<string, Set<Listener>>();
let subscriber: Redis | undefined;

function channel(streamId: string): string {
  return redisKey('appended', streamId);
}

export async function publishAppended(streamId: string, length: number): Promise<void> {
  await redis().publish(channel(streamId), String(length)).catch(() => {});
}

function ensureSubscriber(): Redis {
  if (!subscriber) {
    subscriber = createRedis('subscriber');
    subscriber.on('message', (ch: string, message: string) => {
      const streamId = ch.slice(channel('').length);
      for (const listener of listeners.get(streamId) ?? []) listener(Number(message));
    });
  }
  return subscriber;
}

/** Calls `listener` with the new length whenever the stream grows; returns the unsubscribe. */
export function onAppended(streamId: string, listener: Listener): () => void {
  let set = listeners.get(streamId);
  if (!set) {
    set = new Set();
    listeners.set(streamId, set);
    ensureSubscriber().subscribe(channel(streamId)).catch(() => {});
  }
  set.add(listener);
  return () => {
    set.delete(listener);
    if (set.size === 0 && listeners.get(streamId) === set) {
      listeners.delete(streamId);
      subscriber?.unsubscribe(channel(streamId)).catch(() => {});
    }
  };
}

/** Resolves after the next append notification, `POLL_MS`, or an abort — whichever comes first. */
export function nextWake(streamId: string, signal?: AbortSignal, maxMs = POLL_MS): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      off();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, maxMs);
    const off = onAppended(streamId, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Waits until the stream's length is at least `length`; returns the length seen last. */
export async function waitForLength(streamId: string, length: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = (await streamLength({ streamId })) ?? 0;
    const left = deadline - Date.now();
    if (current >= length || left <= 0 || signal?.aborted) return current;
    await nextWake(streamId, signal, Math.min(POLL_MS, left));
  }
}

export async function closeTails(): Promise<void> {
  listeners.clear();
  const s = subscriber;
  subscriber = undefined;
  await s?.quit().catch(() => s.disconnect());
}
