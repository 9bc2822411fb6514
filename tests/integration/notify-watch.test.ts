// Waiters (`?after=`, `?wait=`, live tails) watch a channel before they read PostgreSQL, so a fold or
// an append that finishes between the read and the wait is heard, not slept through until the
// safety poll. These check the primitive that makes it so, against the real Redis.
import { afterAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { useOwnDatabase, makeTeam, makeStream } from '../helpers/context.ts';

await useOwnDatabase('notify');
const { channelFor, publish, watch, closeNotify } = await import('../../src/lib/server/notify.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { waitForLength } = await import('../../src/lib/server/streams/tail-events.ts');
afterAll(() => closeNotify());

describe('watch', () => {
  it('keeps every message published after it resolves until the waiter asks, in order', async () => {
    const channel = channelFor('folded', randomUUID());
    const folds = await watch(channel);
    try {
      // Published while the waiter is still busy elsewhere (reading PostgreSQL, say).
      await publish(channel, '3');
      await publish(channel, '4');
      await new Promise((r) => setTimeout(r, 100));
      expect(await folds.next(undefined, 50)).toBe('3');
      expect(await folds.next(undefined, 50)).toBe('4');
      expect(await folds.next(undefined, 50)).toBeNull();
      // And a message that comes while it waits wakes it.
      const next = folds.next(undefined, 5_000);
      await publish(channel, '5');
      expect(await next).toBe('5');
    } finally {
      folds.close();
    }
  });

  it('answers null at once when the waiter is already aborted, and on abort while waiting', async () => {
    const folds = await watch(channelFor('folded', randomUUID()));
    try {
      expect(await folds.next(AbortSignal.abort(), 5_000)).toBeNull();
      const controller = new AbortController();
      const next = folds.next(controller.signal, 5_000);
      controller.abort();
      expect(await next).toBeNull();
    } finally {
      folds.close();
    }
  });
});

describe('waitForLength', () => {
  it('returns as soon as an append reaches the length it waits for', async () => {
    const team = await makeTeam(db());
    const stream = await makeStream(db(), { teamId: team.id, slug: 'waited', name: 'waited' });
    const waited = waitForLength(stream.id, 2, 30_000);
    await appendEvents({ streamId: stream.id, bodies: [1] });
    await appendEvents({ streamId: stream.id, bodies: [2] });
    expect(await waited).toBe(2);
  });
});
