// Sandbox fold throughput: a counter reducer folded through the real pool (worker thread, QuickJS),
// batched and one event per call, plus the cost of starting a reducer. Figures only, no assertions.
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

export async function benchSandbox(): Promise<{ batched: number; perEvent: number; startupUs: number }> {
  try {
    await eventsPerSecond(1000, 20); // warm-up: thread start, compile, JIT
    const batched = await eventsPerSecond(1000, 300);
    const perEvent = await eventsPerSecond(1, 3000);
    const reducers = 100;
    const start = performance.now();
    for (let i = 0; i < reducers; i++) {
      await foldBatch({ cacheKey: `bench:fresh:${i}`, code: COUNTER, stateJson: 'null', events: batch(0, 1), stream });
    }
    const startupUs = ((performance.now() - start) * 1000) / reducers;
    return { batched, perEvent, startupUs };
  } finally {
    await closeSandbox();
  }
}

if (import.meta.main) {
  const { batched, perEvent, startupUs } = await benchSandbox();
  const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });
  console.log(`events/s, 1,000 events per call: ${fmt(batched)}; 1 event per call: ${fmt(perEvent)}; µs to start a reducer: ${fmt(startupUs)}`);
}
