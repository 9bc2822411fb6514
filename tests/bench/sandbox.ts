// Sandbox fold throughput: a counter reducer folded through the real pool (worker thread, QuickJS),
// batched and one event per call, plus the cost of starting a reducer; and a keyed reducer's two
// calls per batch (keyBy naming each event's key; the fold of each event into its key's state, the
// batch's 1,000 keys all stored). Figures only, no assertions.
// Run alone with `npx node tests/bench/sandbox.ts`; `npm run bench` prints it with the rest.
import { closeSandbox, foldBatch, type SandboxEvent } from '../../src/lib/server/reducers/sandbox/index.ts';

const COUNTER = '(state, event) => (state ?? 0) + (event.type === "order" ? 1 : 0)';
const stream = { team: 'bench', name: 'orders', length: 0 };

function batch(from: number, size: number): SandboxEvent[] {
  const receivedAt = Date.now();
  return Array.from({ length: size }, (_, i) => ({ index: from + i, bodyJson: '{"type":"order","total":12.5}', receivedAt }));
}

async function eventsPerSecond(batchSize: number, calls: number): Promise<number> {
  const batches = Array.from({ length: calls }, (_, b) => batch(b * batchSize, batchSize));
  let stateJson = 'null';
  const start = performance.now();
  for (const events of batches) {
    const result = await foldBatch({ cacheKey: `bench:counter`, code: COUNTER, stateJson, events, stream });
    if (result.error) throw new Error(result.error.message);
    stateJson = result.stateJson;
  }
  const seconds = (performance.now() - start) / 1000;
  return (batchSize * calls) / seconds;
}

/** keyBy and the keyed fold, 1,000 events (and keys) per call, as fold-keyed.ts calls them. */
async function keyedPerSecond(calls: number): Promise<{ keyBy: number; keyed: number }> {
  const size = 1000;
  const receivedAt = Date.now();
  const events = Array.from({ length: size }, (_, i) => ({ index: i, bodyJson: JSON.stringify({ user: `u${i}`, total: 12.5 }), receivedAt }));
  const keys = events.map((_, i) => `u${i}`);
  const keyStatesJson = `{${keys.map((k, i) => `"${k}":{"n":${i}}`).join(',')}}`;
  let t0 = performance.now();
  for (let c = 0; c < calls; c++) {
    const r = await foldBatch({ cacheKey: 'bench:key', code: '(e) => e.user', stateJson: 'null', events, stream, mode: 'keys' });
    if (r.error || r.keys?.length !== size) throw new Error(r.error?.message ?? 'keyBy: keys missing');
  }
  const keyBy = (size * calls) / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let c = 0; c < calls; c++) {
    const r = await foldBatch({ cacheKey: 'bench:keyed', code: '(s) => ({ n: s.n + 1 })', stateJson: '{"n":0}', events, stream, mode: 'keyed', keys, keyStatesJson });
    if (r.error || r.states?.length !== size) throw new Error(r.error?.message ?? 'keyed: states missing');
  }
  return { keyBy, keyed: (size * calls) / ((performance.now() - t0) / 1000) };
}

export async function benchSandbox(): Promise<{ batched: number; perEvent: number; startupUs: number; keyBy: number; keyed: number }> {
  try {
    await eventsPerSecond(1000, 20); // warm-up: thread start, compile, JIT
    const batched = await eventsPerSecond(1000, 300);
    await keyedPerSecond(10);
    const { keyBy, keyed } = await keyedPerSecond(100);
    const perEvent = await eventsPerSecond(1, 3000);
    const reducers = 100;
    const start = performance.now();
    for (let i = 0; i < reducers; i++) {
      await foldBatch({ cacheKey: `bench:fresh:${i}`, code: COUNTER, stateJson: 'null', events: batch(0, 1), stream });
    }
    const startupUs = ((performance.now() - start) * 1000) / reducers;
    return { batched, perEvent, startupUs, keyBy, keyed };
  } finally {
    await closeSandbox();
  }
}

if (import.meta.main) {
  const { batched, perEvent, startupUs, keyBy, keyed } = await benchSandbox();
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(`events/s, 1,000 events per call: ${fmt(batched)}; 1 event per call: ${fmt(perEvent)}; µs to start a reducer: ${fmt(startupUs)}`);
  console.log(`keyed, events/s, 1,000 per call: keyBy ${fmt(keyBy)}; fold into the keys' states ${fmt(keyed)}`);
}
