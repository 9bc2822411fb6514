// Live tails: long-polls and Server-Sent Events wait here for a stream to grow. Appends publish
// the new length after commit (lib/server/notify.ts); a waiter reads PostgreSQL when told the
// stream grew, or every few seconds in case a message was lost.
import { channelFor, nextMessage, publish, SAFETY_POLL_MS } from '../notify.ts';
import { coalescer } from '../coalesce.ts';
import { streamLength } from './read-events.ts';

const appended = coalescer<number>((entries) => Promise.all(entries.map(([streamId, length]) => publish(channelFor('appended', streamId), String(length)))), Math.max);

/** Tells live tails a stream grew, without waiting: one message per stream per tick, with its newest length. */
export function publishAppended(streamId: string, length: number): void {
  appended.add(streamId, length);
}

/** The length announced by the next append notification; null after `maxMs` or an abort. */
export async function nextWake(streamId: string, signal?: AbortSignal, maxMs = SAFETY_POLL_MS): Promise<number | null> {
  const message = await nextMessage(channelFor('appended', streamId), signal, maxMs);
  return message === null ? null : Number(message);
}

/** Waits until the stream's length is at least `length`; returns the length seen last. */
export async function waitForLength(streamId: string, length: number, timeoutMs: number, signal?: AbortSignal): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let current = (await streamLength({ streamId })) ?? 0;
  for (;;) {
    const left = deadline - Date.now();
    if (current >= length || signal?.aborted) return current;
    if (left <= 0) return (await streamLength({ streamId })) ?? current;
    const announced = await nextWake(streamId, signal, Math.min(SAFETY_POLL_MS, left));
    // Read only when an append says the length may suffice, or when no message came in a while.
    if (announced === null || announced >= length) current = (await streamLength({ streamId })) ?? 0;
  }
}
