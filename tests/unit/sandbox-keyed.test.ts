// Keyed folding in the sandbox, for real: keyBy names each event's key (with the key rules checked
// on both sides of the boundary), then each event folds into its own key's state.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSandbox, foldBatch, type SandboxEvent } from '../../src/lib/server/reducers/sandbox/index.ts';

const stream = { team: 'acme', name: 'onboarding', length: 100 };
let n = 0;

function events(bodies: unknown[]): SandboxEvent[] {
  return bodies.map((body, i) => ({ index: i, bodyJson: JSON.stringify(body), receivedAt: 1_700_000_000_000 + i }));
}

function keysOf(keyBy: string, bodies: unknown[]) {
  return foldBatch({ cacheKey: `keys-${n++}`, code: keyBy, stateJson: 'null', events: events(bodies), stream, mode: 'keys' });
}

afterAll(() => closeSandbox());

describe('keyBy', () => {
  it('gives strings as they are, numbers as their decimal string, and null for null or undefined', async () => {
    const result = await keysOf('(e) => e.user', [{ user: 'ada' }, { user: 42 }, { user: 1.5 }, {}, { user: null }, { user: 'ünï/%' }]);
    expect(result.error).toBeUndefined();
    expect(result.keys).toEqual(['ada', '42', '1.5', null, null, 'ünï/%']);
    expect(result.folded).toBe(6);
  });

  it('accepts a 512-byte key and stops at a 513-byte one, an object, an empty string or NaN', async () => {
    const ok = 'é'.repeat(256);
    expect((await keysOf('(e) => e.k', [{ k: ok }])).keys).toEqual([ok]);
    const cases: [unknown, RegExp][] = [
      ['x'.repeat(513), /longer than 512 bytes/],
      [{}, /returned an object/],
      [[1], /returned an array/],
      ['', /empty string/],
      [true, /returned a boolean/],
    ];
    for (const [k, message] of cases) {
      const result = await keysOf('(e) => e.k', [{ k: 'before' }, { k }]);
      expect(result.keys).toEqual(['before']);
      expect(result.error).toMatchObject({ kind: 'key', index: 1, message: expect.stringMatching(message) });
    }
    const nan = await keysOf('(e) => e.n / 0 * 0', [{ n: 1 }]);
    expect(nan.error).toMatchObject({ kind: 'key', message: expect.stringContaining('finite') });
  });

  it('refuses keys the host cannot store (a NUL, a lone surrogate) even when the driver lets them through', async () => {
    const nul = await keysOf('(e) => "a" + String.fromCharCode(0)', [{}]);
    expect(nul.error).toMatchObject({ kind: 'key', index: 0 });
    const lone = await keysOf('(e) => "a" + String.fromCharCode(0xd800)', [{}]);
    expect(lone.error).toMatchObject({ kind: 'key', index: 0 });
  });

  it('records no effects and stops on a throw or an endless loop', async () => {
    const effect = await keysOf('(e) => { email({ to: "a@b.example", subject: "x", text: "y" }); return "k"; }', [{}]);
    expect(effect.error).toMatchObject({ kind: 'threw', message: expect.stringContaining('only be recorded while an event is folded') });
    expect(effect.effects).toEqual([]);
    const loop = await keysOf('(e) => { for (;;) {} }', [{}]);
    expect(loop.error?.kind).toBe('timeout');
    // Its frames are named for it, so a stack says which function failed.
    const thrown = await keysOf('(e) => {\n  throw new Error("no user");\n}', [{}]);
    expect(thrown.error).toMatchObject({ kind: 'threw', message: 'Error: no user', stack: expect.stringContaining('key-by.js:2') });
  });
});

describe('a keyed fold', () => {
  const code = '(state, event, index, stream) => ({ n: state.n + 1, key: stream.key, last: index })';
  it('folds each event into its key, from the stored state or the initial one', async () => {
    const bodies = [{ u: 'ada' }, { u: 'bob' }, { u: 'ada' }];
    const result = await foldBatch({
      cacheKey: `keyed-${n++}`,
      code,
      stateJson: '{"n":0}',
      events: events(bodies),
      stream,
      mode: 'keyed',
      keys: ['ada', 'bob', 'ada'],
      keyStatesJson: JSON.stringify({ ada: { n: 10 }, __proto__: { n: 5 } }),
    });
    expect(result.error).toBeUndefined();
    expect(result.states!.map((s) => JSON.parse(s))).toEqual([
      { n: 11, key: 'ada', last: 0 },
      { n: 1, key: 'bob', last: 1 },
      { n: 12, key: 'ada', last: 2 },
    ]);
  });

  it('a key named __proto__ is a key like any other', async () => {
    const result = await foldBatch({
      cacheKey: `keyed-${n++}`,
      code,
      stateJson: '{"n":0}',
      events: events([{}, {}]),
      stream,
      mode: 'keyed',
      keys: ['__proto__', '__proto__'],
      keyStatesJson: '{"__proto__":{"n":5}}',
    });
    expect(result.states!.map((s) => JSON.parse(s).n)).toEqual([6, 7]);
  });

  it('applies the state limit per key', async () => {
    const result = await foldBatch({
      cacheKey: `keyed-${n++}`,
      code: '(s, e) => s + e.t',
      stateJson: '""',
      events: events([{ t: 'x'.repeat(600) }, { t: 'y'.repeat(600) }, { t: 'z'.repeat(600) }]),
      stream,
      mode: 'keyed',
      keys: ['a', 'b', 'a'],
      limits: { stateBytes: 1000 },
    });
    expect(result.folded).toBe(2);
    expect(result.error).toMatchObject({ kind: 'state_too_large', index: 2, message: expect.stringContaining('per key') });
  });
});
