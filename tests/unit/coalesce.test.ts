// The signal buffer behind fold wake-ups and live-tail publishes: merged per key, one send at a
// time, held while Redis cannot take signals, bounded with the oldest dropped.
import { describe, expect, it } from 'vitest';
import { coalescer } from '../../src/lib/server/coalesce.ts';

const tick = () => new Promise((r) => setImmediate(r));

function recorder({ fail = false } = {}) {
  const batches: [string, number][][] = [];
  let release: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();
  return {
    batches,
    /** Makes the next sends wait until `open()`. */
    block() {
      gate = new Promise((r) => (release = r));
    },
    open: () => release(),
    async send(entries: [string, number][]) {
      batches.push(entries);
      await gate;
      return fail ? entries : [];
    },
  };
}

describe('coalescer', () => {
  it('merges signals per key and keeps one send in flight; what arrives meanwhile goes next, merged', async () => {
    const r = recorder();
    const c = coalescer({ send: r.send, merge: Math.max });
    r.block();
    c.add('a', 1);
    c.add('a', 3);
    c.add('b', 1);
    await tick();
    for (const [key, value] of [['a', 4], ['b', 2], ['a', 5]] as const) c.add(key, value);
    await tick();
    expect(r.batches).toEqual([[['a', 3], ['b', 1]]]);
    r.open();
    await c.drain();
    await tick();
    expect(r.batches).toEqual([[['a', 3], ['b', 1]], [['a', 5], ['b', 2]]]);
  });

  it('holds signals while held, bounded with the oldest dropped, and sends them on resume', async () => {
    const r = recorder();
    let held = true;
    const c = coalescer({ send: r.send, max: 3, held: () => held });
    for (const key of ['s1', 's2', 's3', 's4', 's2', 's5']) c.add(key, 1);
    await tick();
    expect(r.batches).toEqual([]);
    expect(c.stats()).toEqual({ waiting: 3, dropped: 2 });
    held = false;
    c.resume();
    await c.drain();
    expect(r.batches.map((b) => b.map(([key]) => key))).toEqual([['s3', 's4', 's5']]);
    expect(c.stats()).toEqual({ waiting: 0, dropped: 2 });
  });

  it('keeps what a send could not deliver, merged with newer signals, until the next chance (no retry loop)', async () => {
    const r = recorder({ fail: true });
    const c = coalescer({ send: r.send, merge: Math.max });
    c.add('a', 1);
    for (let i = 0; i < 5; i++) await tick();
    expect(r.batches).toEqual([[['a', 1]]]);
    expect(c.stats().waiting).toBe(1);
    c.add('a', 2);
    c.add('b', 1);
    await tick();
    expect(r.batches.at(-1)).toEqual([['a', 2], ['b', 1]]);
  });
});
