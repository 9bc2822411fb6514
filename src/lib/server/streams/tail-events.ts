// Live tails: long-polls and Server-Sent Events wait here for a stream to grow. Appends publish
// the new length after commit (lib/server/notify.ts); a waiter reads PostgreSQL when told the
// stream grew, or every few seconds in case a message was lost.
import { channelFor, publishSent, SAFETY_POLL_MS, watch, type Watch } from '../notify.ts';
import { coalescer } from '../coalesce.ts';
import { onRedisAnswering, redisAnswering } from '../redis.ts';
import { streamLength } from './read-events.ts';

// One message per stream with its newest length; while Redis cannot take them they wait, bounded
// (a tail that misses one re-reads PostgreSQL on its safety poll).
const appended = coalescer<number>({
  async send(entries) {
    const sent = await Promise.all(entries.map(([streamId, length]) => publishSent(channelFor('appended', streamId), String(length))));
    return entries.filter((_, i) => !sent[i]);
  },
  merge: Math.max,
  held: () => !redisAnswering(),
});
onRedisAnswering(() => appended.resume());

/** Tells live tails a stream grew, without waiting: one message per stream at a time, with its newest length. */
export function publishAppended(streamId: string, length: number): void {
  appended.add(streamId, length);
}

/**
 * Append notifications of a stream, from now on: call before reading the stream's length, so that
 * an append committed after the read is always heard.
 */
export function watchAppends(streamId: string): Promise<Watch> {
  return watch(channelFor('appended', streamId));
}

/** Waits until the stream's length is at least `length`; returns the length seen last. */
export async function waitForLength(streamId: string, length: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let current = (await streamLength({ streamId })) ?? 0;
  if (current >= length || signal?.aborted || timeoutMs <= 0) return current;
  const appends = await watchAppends(streamId);
  try {
    current = (await streamLength({ streamId })) ?? 0;
    for (;;) {
      const left = deadline - Date.now();
      if (current >= length || signal?.aborted) return current;
      if (left <= 0) return (await streamLength({ streamId })) ?? current;
      const message = await appends.next(signal, Math.min(SAFETY_POLL_MS, left));
      // Read only when an append says the length may suffice, or when no message came in a while.
      if (message === null || Number(message) >= length) current = (await streamLength({ streamId })) ?? 0;
    }
  } finally {
    appends.close();
  }
}
