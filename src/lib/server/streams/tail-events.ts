// Live tails: long-polls and Server-Sent Events wait here for a stream to grow. Appends publish
// the new length after commit (lib/server/notify.ts); waiters also re-read PostgreSQL every second.
import { channelFor, nextMessage, publish } from '../notify.ts';
import { coalescer } from '../coalesce.ts';
import { streamLength } from './read-events.ts';

const POLL_MS = 1_000;

const appended = coalescer<number>((entries) => Promise.all(entries.map(([streamId, length]) => publish(channelFor('appended', streamId), String(length)))), Math.max);

/** Tells live tails a stream grew, without waiting: one message per stream per tick, with its newest length. */
export function publishAppended(streamId: string, length: number): void {
  appended.add(streamId, length);
}

/** Resolves after the next append notification, `maxMs`, or an abort — whichever comes first. */
export function nextWake(streamId: string, signal?: AbortSignal, maxMs = POLL_MS): Promise<void> {
  return nextMessage(channelFor('appended', streamId), signal, maxMs);
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
