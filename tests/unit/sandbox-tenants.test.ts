// The sandbox among strangers: what a reducer reports cannot be forged, work the CPU interrupt never
// sees still counts, and the threads are shared fairly between tenants.
import { afterAll, describe, expect, it } from 'vitest';

// One fold thread, so the order in which tenants are served is observable.
process.env.SANDBOX_THREADS = '1';
const { closeSandbox, foldBatch, foldSlice } = await import('../../src/lib/server/reducers/sandbox/index.ts');
const { resetEnv } = await import('../../src/lib/server/env.ts');
resetEnv();

const stream = { team: 'acme', name: 'orders', length: 100 };
const events = (n: number, body: unknown = {}) => Array.from({ length: n }, (_, i) => ({ index: i, bodyJson: JSON.stringify(body), receivedAt: Date.UTC(2025, 0, 1) + i }));
let keys = 0;
const fold = (code: string, n = 1, extra = {}) => foldBatch({ cacheKey: `t-${keys++}`, code, stateJson: '0', events: events(n), stream, ...extra });

afterAll(() => closeSandbox());

describe('what the host takes from a reducer', () => {
  it('cannot be rewritten through toJSON on the prototypes', async () => {
    const forged = JSON.stringify({
      folded: 1,
      state: '"forged"',
      effects: Array.from({ length: 150 }, (_, i) => ({ eventIndex: 0, ordinal: i, kind: 'email', payload: { to: 'victim@example.com', subject: 'x', from: 'service@paypal.com' } })),
    });
    const result = await fold(`(s) => {
      Object.prototype.toJSON = function () { return Object.prototype.hasOwnProperty.call(this, 'folded') ? ${forged} : this };
      email({ to: 'ada@example.com', subject: 'hello', from: 'service@paypal.com' });
      return 1;
    }`);
    expect(result.error).toBeUndefined();
    expect(result.effects).toHaveLength(1);
    expect(result.effects[0]).toMatchObject({ kind: 'email', eventIndex: 0, ordinal: 0 });
    expect(result.effects[0].payload).not.toHaveProperty('from');
  });

  it('caps effects per event on the host, whatever the reducer does to its builtins', async () => {
    const result = await fold(`(s) => {
      Array.prototype.push = function () { return 0 };
      Object.defineProperty = () => {};
      for (let i = 0; i < 150; i++) { try { schedule(1000, i) } catch (e) {} }
      return 1;
    }`);
    expect(result.error).toBeUndefined();
    expect(result.effects).toHaveLength(100);
    expect(new Set(result.effects.map((e) => e.ordinal)).size).toBe(100);
  });

  it('records a Slack message with its URL and text', async () => {
    const ok = await fold('(s) => { slack("https://hooks.slack.example/T1/B2", "Deploy *done*"); return s }');
    expect(ok.effects).toEqual([{ eventIndex: 0, ordinal: 0, kind: 'slack', payload: { url: 'https://hooks.slack.example/T1/B2', text: 'Deploy *done*' } }]);
    for (const [call, message] of [
      ['slack("ftp://x", "hi")', /url must be an http/],
      ['slack("https://x.test", "")', /text must be a non-empty string/],
      ['slack("https://x.test")', /text must be a non-empty string/],
    ] as const) {
      const bad = await fold(`(s) => { ${call}; return s }`);
      expect(bad.error?.message, call).toMatch(message);
    }
  });

  it('refuses effects recorded outside an event and state the database cannot store', async () => {
    const top = await fold('request("https://example.com"); (s) => s');
    expect(top.error?.kind).toBe('compile');
    const nul = await fold('(s) => "a\\u0000b"');
    expect(nul.error).toMatchObject({ kind: 'not_json', index: 0 });
  });
});

describe('CPU that the interrupt never sees', () => {
  it('fails an event whose one builtin call overran the budget, even though it finished', async () => {
    // One String.prototype.indexOf over ~200 million character comparisons: no interrupt check inside.
    const code = `(s, e, i) => {
      if (i === 1) { const hay = 'a'.repeat(200000); const needle = 'a'.repeat(1000) + 'b'; hay.indexOf(needle); }
      return s + 1;
    }`;
    const result = await fold(code, 3, { limits: { cpuMsPerEvent: 20 } });
    expect(result).toMatchObject({ stateJson: '1', folded: 1, error: { kind: 'timeout', index: 1 } });
  });
});

describe('fair shares', () => {
  // Each event spins ~40 ms of CPU: under the 50 ms budget, but a batch of them takes many slices.
  const SLOW = '(s) => { const end = Date.now(); let x = 0; for (let i = 0; i < 3e5; i++) x += i; return s + 1 }';

  it('serves another tenant between the slices of one tenant\'s long batch', async () => {
    const finished: string[] = [];
    const long = foldBatch({ tenant: 'a', cacheKey: 'slow-a', code: SLOW, stateJson: '0', events: events(30), stream, limits: { cpuMsPerEvent: 1000 } }).then((r) => {
      finished.push('a');
      return r;
    });
    await new Promise((r) => setTimeout(r, 50));
    const quick = foldBatch({ tenant: 'b', cacheKey: 'quick-b', code: '(s) => s + 1', stateJson: '0', events: events(3), stream }).then((r) => {
      finished.push('b');
      return r;
    });
    const [a, b] = await Promise.all([long, quick]);
    expect(a.error).toBeUndefined();
    expect(a).toMatchObject({ folded: 30, stateJson: '30' });
    expect(b).toMatchObject({ folded: 3, stateJson: '3' });
    expect(finished).toEqual(['b', 'a']);
  });

  it('takes tenants in turn rather than first come, first served', async () => {
    const order: string[] = [];
    const call = (tenant: string, n: number) =>
      foldSlice({ tenant, cacheKey: `turn-${tenant}`, code: SLOW, stateJson: '0', events: events(2), stream, limits: { cpuMsPerEvent: 1000 } }).then(() => order.push(`${tenant}${n}`));
    const backlog = [1, 2, 3, 4, 5].map((n) => call('a', n));
    const other = call('b', 1);
    await Promise.all([...backlog, other]);
    // b waits behind at most the call that was running and the one after it, never the whole backlog.
    expect(order.indexOf('b1')).toBeLessThanOrEqual(2);
  });
});
