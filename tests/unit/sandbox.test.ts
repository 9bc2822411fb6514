// The reducer sandbox, for real: QuickJS in worker threads, no mocks.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSandbox, foldBatch, threadEntryPath, type FoldRequest, type SandboxEvent } from '../../src/lib/server/reducers/sandbox/index.ts';

const T0 = Date.UTC(2025, 0, 1, 12, 0, 0);
const stream = { team: 'acme', name: 'orders', length: 100 };
let keys = 0;

function events(bodies: unknown[], from = 0): SandboxEvent[] {
  return bodies.map((body, i) => ({ index: from + i, bodyJson: JSON.stringify(body), receivedAt: T0 + (from + i) * 1000 }));
}

function fold(code: string, bodies: unknown[], extra: Partial<FoldRequest> = {}) {
  return foldBatch({ cacheKey: `test-${keys++}`, code, stateJson: 'null', events: events(bodies), stream, ...extra });
}

const COUNTER = '(state, event) => (state ?? 0) + 1';

async function expectCounterStillWorks() {
  const result = await foldBatch({ cacheKey: 'counter', code: COUNTER, stateJson: '10', events: events([{}, {}, {}]), stream });
  expect(result).toEqual({ stateJson: '13', folded: 3, effects: [] });
}

afterAll(async () => {
  await closeSandbox();
});

describe('folding', () => {
  it('folds the counter reducer over a batch', async () => {
    const result = await foldBatch({ cacheKey: 'counter', code: COUNTER, stateJson: 'null', events: events(Array(1000).fill({ type: 'x' })), stream });
    expect(result).toEqual({ stateJson: '1000', folded: 1000, effects: [] });
    const next = await foldBatch({ cacheKey: 'counter', code: COUNTER, stateJson: result.stateJson, events: events([{}, {}], 1000), stream });
    expect(next.stateJson).toBe('1002');
  });

  it.each([
    ['number', '(s, e) => s + e.n', '0', [{ n: 2 }, { n: 3.5 }], '5.5'],
    ['string', '(s, e) => s + e.c', '""', [{ c: 'a' }, { c: 'é' }], '"aé"'],
    ['boolean', '(s, e) => !s', 'false', [{}, {}, {}], 'true'],
    ['null', '(s, e) => null', '{"x":1}', [{}], 'null'],
    ['array', '(s, e) => [...s, e.v]', '[]', [{ v: 1 }, { v: [2] }], '[1,[2]]'],
    ['object', '(s, e) => ({ ...s, [e.k]: (s[e.k] ?? 0) + 1 })', '{}', [{ k: 'a' }, { k: 'b' }, { k: 'a' }], '{"a":2,"b":1}'],
  ])('keeps a %s state', async (_type, code, initial, bodies, expected) => {
    const result = await fold(code, bodies, { stateJson: initial });
    expect(result.error).toBeUndefined();
    expect(result.stateJson).toBe(expected);
    expect(result.folded).toBe(bodies.length);
  });

  it('accepts function expressions, declarations and scripts whose value is a function', async () => {
    for (const code of ['function (s, e) { return (s ?? 0) + 1 }', 'function count(s) { return (s ?? 0) + 1 }', '// counts\n(s) => (s ?? 0) + 1;', 'const f = (s) => (s ?? 0) + 1; f']) {
      const result = await fold(code, [{}, {}]);
      expect(result.error, code).toBeUndefined();
      expect(result.stateJson, code).toBe('2');
    }
  });

  it('passes the event, its index and the stream', async () => {
    const result = await fold('(s, e, i, stream) => [...(s ?? []), [e.v, i, stream.team, stream.name, stream.length]]', [{ v: 'a' }, { v: 'b' }]);
    // stream.length is the array's length when the event was appended: index + 1.
    expect(JSON.parse(result.stateJson)).toEqual([['a', 0, 'acme', 'orders', 1], ['b', 1, 'acme', 'orders', 2]]);
  });

  it('gives each event the state as stored JSON, whatever the batch size', async () => {
    const code = '(s, e) => ({ n: (s?.n ?? 0) + 1, when: new Date(), kind: typeof s?.when })';
    const result = await fold(code, [{}, {}], { collectStates: true });
    expect(JSON.parse(result.states![1])).toEqual({ n: 2, when: new Date(T0 + 1000).toISOString(), kind: 'string' });
  });

  it('returns the state after each event for dry runs', async () => {
    const result = await fold(COUNTER, [{}, {}, {}], { collectStates: true });
    expect(result.states).toEqual(['1', '2', '3']);
  });

  it('reports a compile error on the first event', async () => {
    for (const code of ['(s, e) => {', '42']) {
      const result = await foldBatch({ cacheKey: `bad-${keys++}`, code, stateJson: '7', events: events([{}], 5), stream });
      expect(result).toMatchObject({ stateJson: '7', folded: 0, effects: [], error: { kind: 'compile', index: 5 } });
    }
  });
});

describe('the sandbox globals', () => {
  it('fixes Date.now() and new Date() to the receive time', async () => {
    const result = await fold('(s, e) => [...(s ?? []), [Date.now(), new Date().getTime(), new Date(0).getTime(), typeof Date()]]', [{}, {}], {});
    expect(JSON.parse(result.stateJson)).toEqual([[T0, T0, 0, 'string'], [T0 + 1000, T0 + 1000, 0, 'string']]);
  });

  it('seeds Math.random per event: the same on replay, different between events', async () => {
    const code = '(s, e) => [...(s ?? []), [Math.random(), Math.random()]]';
    const first = await fold(code, [{}, {}, {}]);
    const second = await fold(code, [{}, {}, {}]); // another cache key: a fresh runtime
    expect(second.stateJson).toBe(first.stateJson);
    const draws = JSON.parse(first.stateJson) as number[][];
    expect(new Set(draws.flat()).size).toBe(6);
    for (const d of draws.flat()) expect(d >= 0 && d < 1).toBe(true);
    // Event 1 folded on its own draws what it drew inside the batch.
    const alone = await foldBatch({ cacheKey: `r-${keys++}`, code, stateJson: 'null', events: events([{}], 1), stream });
    expect(JSON.parse(alone.stateJson)[0]).toEqual(draws[1]);
  });

  it('records effects with kinds, ordinals and due dates, performing nothing', async () => {
    const code = `(s, e, i) => {
      if (e.type === 'order') {
        request('https://example.com/hook', { headers: { 'X-Id': String(i) }, body: { total: e.total } });
        email({ to: ['ada@example.com'], subject: 'Order ' + i, text: 'thanks', replyTo: 'Shop <shop@example.com>' });
        schedule(60000, { type: 'reminder', order: i });
        schedule('2025-12-31T00:00:00Z', { type: 'new-year' });
      } else {
        request('http://example.com/other', { method: 'put' });
      }
      return (s ?? 0) + 1;
    }`;
    const result = await fold(code, [{ type: 'order', total: 5 }, { type: 'ping' }]);
    expect(result.error).toBeUndefined();
    expect(result.effects).toEqual([
      { eventIndex: 0, ordinal: 0, kind: 'webhook', payload: { url: 'https://example.com/hook', method: 'POST', headers: { 'X-Id': '0' }, body: { total: 5 } } },
      { eventIndex: 0, ordinal: 1, kind: 'email', payload: { to: ['ada@example.com'], subject: 'Order 0', text: 'thanks', replyTo: 'Shop <shop@example.com>' } },
      { eventIndex: 0, ordinal: 2, kind: 'timer', payload: { dueAt: new Date(T0 + 60000).toISOString(), event: { type: 'reminder', order: 0 } } },
      { eventIndex: 0, ordinal: 3, kind: 'timer', payload: { dueAt: '2025-12-31T00:00:00.000Z', event: { type: 'new-year' } } },
      { eventIndex: 1, ordinal: 0, kind: 'webhook', payload: { url: 'http://example.com/other', method: 'PUT', headers: {}, body: null } },
    ]);
  });

  it('captures an effect body when it is recorded', async () => {
    const result = await fold('(s) => { const body = { n: 1 }; request("https://example.com", { body }); body.n = 2; return s }', [{}]);
    expect(result.effects[0].payload).toMatchObject({ body: { n: 1 } });
  });

  it.each([
    ['request("ftp://x")', /url must be an http/],
    ['request("https://x.test", { method: "TRACE" })', /method must be one of/],
    ['request("https://x.test", { headers: { a: 1 } })', /header a must be a single-line string/],
    ['request("https://x.test", { headers: { "webhook-signature": "x" } })', /set by Pipet/],
    ['request("https://x.test", { body: () => 1 })', /body must be a JSON value/],
    ['email({ to: "nobody", subject: "x" })', /to must be an email address/],
    ['email({ to: "a@b.c", subject: "x\\nBcc: all@b.c" })', /subject must be a non-empty single-line string/],
    ['schedule(-1, {})', /delay must be a number of milliseconds/],
    ['schedule("tomorrow", {})', /ISO date string/],
    ['schedule(1000)', /event is required/],
    ['for (let i = 0; i < 101; i++) schedule(1, i)', /at most 100 effects per event/],
  ])('rejects invalid effect arguments: %s', async (call, message) => {
    const result = await fold(`(s, e, i) => { if (i === 1) { ${call}; } return (s ?? 0) + 1 }`, [{}, {}, {}]);
    expect(result).toMatchObject({ stateJson: '1', folded: 1, effects: [], error: { kind: 'threw', index: 1 } });
    expect(result.error!.message).toMatch(message);
  });

  it('exposes nothing of the host', async () => {
    const probe = ['process', 'require', 'module', 'fetch', 'setTimeout', 'setInterval', 'queueMicrotask', 'Buffer', 'WebAssembly', 'SharedArrayBuffer', 'Atomics', 'console', 'std', 'os'];
    const result = await fold(`() => ({ ${probe.map((n) => `${n}: typeof ${n}`).join(', ')} })`, [{}]);
    const types = JSON.parse(result.stateJson) as Record<string, string>;
    for (const name of ['process', 'require', 'module', 'fetch', 'setTimeout', 'setInterval', 'Buffer', 'WebAssembly', 'std', 'os']) expect(types[name], name).toBe('undefined');
  });
});

describe('errors', () => {
  it('stops at the event that threw, with the state before it and the reducer stack', async () => {
    const code = `(s, e) => {
  if (e.bad) throw new Error('bad event ' + e.id);
  return (s ?? 0) + 1;
}`;
    const result = await foldBatch({ cacheKey: `e-${keys++}`, code, stateJson: '0', events: events([{ id: 1 }, { id: 2 }, { id: 3, bad: true }, { id: 4 }], 10), stream, collectStates: true });
    expect(result).toMatchObject({ stateJson: '2', folded: 2, states: ['1', '2'], error: { kind: 'threw', index: 12, message: 'Error: bad event 3' } });
    expect(result.error!.stack).toMatch(/reducer\.js:2/);
    expect(result.error!.stack).not.toMatch(/pipet-sandbox|node_modules|\/work\//);
  });

  it('drops the effects of the failing event', async () => {
    const result = await fold('(s, e, i) => { request("https://example.com", { body: i }); if (i === 1) throw "nope"; return i }', [{}, {}]);
    expect(result.effects.map((e) => e.eventIndex)).toEqual([0]);
    expect(result.error).toMatchObject({ kind: 'threw', index: 1, message: 'Uncaught: nope' });
  });

  it.each([
    ['undefined', '(s, e, i) => i === 1 ? undefined : i'],
    ['a function', '(s, e, i) => i === 1 ? (() => 1) : i'],
    ['a symbol', '(s, e, i) => i === 1 ? Symbol("x") : i'],
    ['a Promise', '(s, e, i) => i === 1 ? import("fs") : i'],
    ['a BigInt', '(s, e, i) => i === 1 ? { n: 10n } : i'],
    ['a cycle', '(s, e, i) => { if (i !== 1) return i; const o = {}; o.o = o; return o }'],
  ])('rejects a state that is not JSON: %s', async (_what, code) => {
    const result = await fold(code, [{}, {}, {}]);
    expect(result).toMatchObject({ stateJson: '0', folded: 1, error: { kind: 'not_json', index: 1 } });
  });

  it('follows JSON.stringify for values inside the state (NaN → null, functions dropped)', async () => {
    const result = await fold('() => ({ a: NaN, b: () => 1, c: [undefined], d: new Date(0) })', [{}]);
    expect(result.stateJson).toBe('{"a":null,"c":[null],"d":"1970-01-01T00:00:00.000Z"}');
  });
});

describe('hostile reducers are contained', () => {
  it('stops an endless loop', async () => {
    const result = await fold('(s, e, i) => { if (i === 2) while (true) {} return (s ?? 0) + 1 }', [{}, {}, {}, {}]);
    expect(result).toMatchObject({ stateJson: '2', folded: 2, error: { kind: 'timeout', index: 2 } });
    await expectCounterStillWorks();
  });

  it('stops an endless loop at the top level of the code', async () => {
    const result = await fold('while (true) {}', [{}]);
    expect(result).toMatchObject({ folded: 0, error: { kind: 'compile', index: 0 } });
    await expectCounterStillWorks();
  });

  it('honours a configured CPU limit', async () => {
    const spin = '(s, e) => { const end = Date.now(); let x = 0; for (let i = 0; i < e.n; i++) x += i; return (s ?? 0) + 1 }';
    const result = await fold(spin, [{ n: 10 }, { n: 1e9 }], { limits: { cpuMsPerEvent: 20 } });
    expect(result).toMatchObject({ folded: 1, error: { kind: 'timeout', index: 1 } });
  });

  it('stops a memory bomb of arrays', async () => {
    const result = await fold('(s, e, i) => { if (i === 1) { let a = []; while (true) a.push(new Array(1e6).fill(1)) } return i }', [{}, {}, {}]);
    expect(result).toMatchObject({ stateJson: '0', folded: 1, error: { kind: 'memory', index: 1 } });
    await expectCounterStillWorks();
  });

  it('stops a memory bomb of string doubling', async () => {
    const result = await fold('(s, e) => { let x = "x"; while (true) x = x + x; }', [{}]);
    expect(result.folded).toBe(0);
    expect(['memory', 'threw']).toContain(result.error?.kind); // QuickJS may refuse the length before the memory
    await expectCounterStillWorks();
  });

  it('stops a memory bomb that catches its own out-of-memory errors', async () => {
    const result = await fold('(s) => { const keep = []; for (;;) { try { keep.push(new Array(1e6).fill(s)) } catch (e) {} } }', [{}]);
    expect(result).toMatchObject({ folded: 0, error: { index: 0 } });
    expect(['memory', 'timeout']).toContain(result.error!.kind);
    await expectCounterStillWorks();
  });

  it('stops deep recursion', async () => {
    const result = await fold('function f(s, e) { return f(s, e) + 1 }', [{}]);
    expect(result).toMatchObject({ folded: 0, error: { kind: 'threw', index: 0 } });
    expect(result.error!.message).toMatch(/stack overflow/);
    await expectCounterStillWorks();
  });

  it('rejects a state over the limit', async () => {
    const result = await fold('(s, e, i) => i === 0 ? "small" : "x".repeat(1024 * 1024 + 1)', [{}, {}]);
    expect(result).toMatchObject({ stateJson: '"small"', folded: 1, error: { kind: 'state_too_large', index: 1 } });
    const multibyte = await fold('() => "é".repeat(600 * 1024)', [{}]); // 600k characters, 1.2 MB of UTF-8
    expect(multibyte.error?.kind).toBe('state_too_large');
    const configured = await fold('() => "x".repeat(100)', [{}], { limits: { stateBytes: 64 } });
    expect(configured.error?.kind).toBe('state_too_large');
    await expectCounterStillWorks();
  });

  it('does not reach the host through constructors', async () => {
    const result = await fold(`(s) => {
      let viaFunction;
      try { viaFunction = typeof this.constructor.constructor('return process')(); } catch (e) { viaFunction = 'threw ' + e.name }
      let viaArrow;
      try { viaArrow = typeof (() => {}).constructor('return typeof process === "undefined" ? undefined : process')(); } catch (e) { viaArrow = 'threw' }
      return { viaFunction, viaArrow, process: typeof process, require: typeof require, globalThis: Object.keys(globalThis) };
    }`, [{}]);
    const state = JSON.parse(result.stateJson);
    expect(state.viaFunction).toMatch(/^(undefined|threw ReferenceError)$/);
    expect(state.viaArrow).toBe('undefined');
    expect(state.process).toBe('undefined');
    expect(state.require).toBe('undefined');
  });

  it('cannot load modules with import()', async () => {
    const result = await fold('(s) => import("fs")', [{}]);
    expect(result.error).toMatchObject({ kind: 'not_json' });
    const swallowed = await fold('(s) => { let loaded = false; import("fs").then(() => { loaded = true }); return { loaded } }', [{}, {}]);
    expect(JSON.parse(swallowed.stateJson)).toEqual({ loaded: false });
    await expectCounterStillWorks();
  });

  it('keeps prototype pollution inside the polluting reducer', async () => {
    const polluter = await foldBatch({ cacheKey: 'polluter', code: '(s) => { Object.prototype.polluted = 1; Array.prototype.push = null; JSON.stringify = () => "{}"; return ({}).polluted }', stateJson: 'null', events: events([{}]), stream });
    expect(polluter.stateJson).toBe('1');
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    const other = await fold('(s) => [typeof ({}).polluted, typeof [].push]', [{}]);
    expect(other.stateJson).toBe('["undefined","function"]');
    await expectCounterStillWorks();
  });

  it('keeps the thread working after a hostile fold', async () => {
    const hostile = ['while (true) {}', '(s) => { let a = []; while (true) a.push(new Array(1e6).fill(1)) }', 'function f() { return f() }'];
    const results = await Promise.all(hostile.map((code) => fold(code, [{}])).concat([fold(COUNTER, [{}, {}])]));
    expect(results.slice(0, 3).every((r) => r.error && r.folded === 0)).toBe(true);
    expect(results[3].stateJson).toBe('2');
  });
});

describe('plumbing', () => {
  it('finds the thread entry from the project root', () => {
    expect(threadEntryPath()).toMatch(/src\/lib\/server\/reducers\/sandbox\/thread\.ts$/);
  });

  it('recompiles when the code behind a cache key changes', async () => {
    const a = await foldBatch({ cacheKey: 'same-key', code: '() => "a"', stateJson: 'null', events: events([{}]), stream });
    const b = await foldBatch({ cacheKey: 'same-key', code: '() => "b"', stateJson: 'null', events: events([{}]), stream });
    expect([a.stateJson, b.stateJson]).toEqual(['"a"', '"b"']);
  });

  it('returns at once for an empty batch', async () => {
    expect(await fold(COUNTER, [])).toEqual({ stateJson: 'null', folded: 0, effects: [] });
  });
});
