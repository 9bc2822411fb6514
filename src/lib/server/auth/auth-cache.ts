// What authorization reads on every request — API keys and team/stream settings — cached in this
// process, so the hot path makes no database round trip for it. Correctness comes from invalidation:
// every change (a key revoked, a stream's settings, a team's limits) is broadcast to every web
// process, each drops what it cached and acknowledges, and the changing call waits for those
// acknowledgements before it returns. While this process's subscription is down it caches nothing,
// and whatever it caches lives at most AUTH_CACHE_TTL_MS — the bound if a broadcast is ever lost.
import { randomUUID } from 'node:crypto';
import { env } from '../env.ts';
import { channelFor, publish, subscribeForever } from '../notify.ts';

type Entry<T> = { value: T; teamId: string | null; expires: number };

export type Invalidation = { kind: 'key'; id: string } | { kind: 'team'; id: string };
type Message = Invalidation & { ack: string; replyTo: string };

const entries = new Map<string, Entry<unknown>>();
/**
 * Entries kept at most, oldest first out (the Map keeps insertion order and every entry lives the
 * same TTL). Unknown keys are cached too, so without a bound anyone sending made-up keys would grow
 * this process's memory without end.
 */
export const AUTH_CACHE_MAX_ENTRIES = 50_000;
/** This process's acknowledgement channel, and the invalidations it waits on. */
const me = randomUUID();
const waiting = new Map<string, () => void>();
let healthy = false;
let acksHealthy = false;
let listening = false;

function listen(): void {
  if (listening) return;
  listening = true;
  subscribeForever(
    channelFor('invalidate', 'auth'),
    (text) => {
      let message: Message;
      try {
        message = JSON.parse(text);
      } catch {
        return;
      }
      drop(message);
      if (message.replyTo) void publish(channelFor('ack', message.replyTo), message.ack);
    },
    (up) => {
      // Messages may have been missed while the subscription was down: start over.
      if (!up) entries.clear();
      healthy = up;
    },
  );
  subscribeForever(channelFor('ack', me), (ack) => waiting.get(ack)?.(), (up) => (acksHealthy = up));
}

function drop(change: Invalidation): void {
  for (const [key, entry] of entries) {
    const value = entry.value as { id?: string } | null;
    if (change.kind === 'team' ? entry.teamId === change.id : value?.id === change.id) entries.delete(key);
  }
}

/**
 * The cached value for `key`, or `load()`'s (cached when it may be). `teamIdOf` lets a change to a
 * team drop everything of that team.
 */
export async function cached<T>(key: string, load: () => Promise<T>, teamIdOf: (value: T) => string | null, cacheable: (value: T) => boolean = () => true): Promise<T> {
  listen();
  const hit = entries.get(key);
  if (hit && hit.expires > Date.now()) return hit.value as T;
  const value = await load();
  const ttl = env().AUTH_CACHE_TTL_MS;
  if (healthy && ttl > 0 && cacheable(value)) {
    entries.delete(key);
    entries.set(key, { value, teamId: teamIdOf(value), expires: Date.now() + ttl });
    for (const oldest of entries.keys()) {
      if (entries.size <= AUTH_CACHE_MAX_ENTRIES) break;
      entries.delete(oldest);
    }
  }
  return value;
}

/** How many entries this process holds (for tests and diagnostics). */
export function authCacheSize(): number {
  return entries.size;
}

/**
 * Tells every web process to forget what it cached about a key or a team, and waits (at most
 * `waitMs`) until each has acknowledged. Returns how many were told and how many acknowledged.
 */
export async function invalidate(change: Invalidation, waitMs = 2_000): Promise<{ told: number; acknowledged: number }> {
  listen();
  drop(change);
  const ack = randomUUID();
  let acknowledged = 0;
  let told = Infinity;
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => (settle = resolve));
  waiting.set(ack, () => {
    acknowledged += 1;
    if (acknowledged >= told) settle();
  });
  try {
    told = await publish(channelFor('invalidate', 'auth'), JSON.stringify({ ...change, ack, replyTo: acksHealthy ? me : '' } satisfies Message));
    // Without a working acknowledgement channel there is nothing to wait for: the TTL is the bound.
    if (!acksHealthy || acknowledged >= told) return { told, acknowledged };
    const timer = setTimeout(settle, waitMs);
    await done;
    clearTimeout(timer);
    return { told, acknowledged };
  } finally {
    waiting.delete(ack);
  }
}
