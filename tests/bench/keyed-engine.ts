// The sandbox engine in this thread, so that V8's profiler sees it (the pool's threads are started
// without --cpu-prof): 1,000-event batches folded by engine.ts's runFold in each mode — an unkeyed
// counter, an unkeyed reducer with an object state (with and without every state collected), keyBy,
// and the keyed fold (every key stored) — in µs per event, wall and CPU.
// Run: npx node [--cpu-prof --cpu-prof-dir=DIR] tests/bench/keyed-engine.ts [mode], then
//      npx node tests/bench/cpuprofile-top.ts DIR
import { runFold } from '../../src/lib/server/reducers/sandbox/engine.ts';
import type { ThreadFold } from '../../src/lib/server/reducers/sandbox/types.ts';

const options = { progress: new Int32Array(new SharedArrayBuffer(4)), idleMs: 600_000, cacheBytes: 1 << 30 };
const size = 1000;
const receivedAt = Date.now();
const events = Array.from({ length: size }, (_, i) => ({ index: i, bodyJson: JSON.stringify({ user: `u${i}`, n: i }), receivedAt }));
const keys = events.map((_, i) => `u${i}`);
const keyStatesJson = `{${keys.map((k, i) => `"${k}":{"n":${i % 10}}`).join(',')}}`;
const base = { stream: { team: 't', name: 's', length: size }, limits: { cpuMsPerEvent: 50, memoryBytes: 64 * 1024 * 1024, stateBytes: 1024 * 1024 }, sliceMs: 10_000, keep: true, collectStates: false, events };
const OBJECT = '(s) => ({ n: s.n + 1 })';
const modes: Record<string, ThreadFold> = {
  counter: { ...base, cacheKey: 'counter', code: '(n) => n + 1', stateJson: '0' },
  object: { ...base, cacheKey: 'object', code: OBJECT, stateJson: '{"n":0}' },
  'object+states': { ...base, cacheKey: 'collect', code: OBJECT, stateJson: '{"n":0}', collectStates: true },
  keyBy: { ...base, cacheKey: 'keyBy', code: '(e) => e.user', stateJson: 'null', mode: 'keys' },
  keyed: { ...base, cacheKey: 'keyed', code: OBJECT, stateJson: '{"n":0}', mode: 'keyed', keys, keyStatesJson },
};

const only = process.argv[2];
for (const [name, req] of Object.entries(modes)) {
  if (only && only !== name) continue;
  for (let i = 0; i < 5; i++) await runFold(req, options);
  const calls = 100;
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const r = await runFold(req, options);
    if (r.error || r.folded !== size) throw new Error(`${name}: ${r.error?.message ?? r.folded}`);
  }
  const c = process.cpuUsage(c0);
  console.log(`${name.padEnd(14)} ${(((performance.now() - t0) * 1000) / calls / size).toFixed(2).padStart(6)} µs per event wall, ${((c.user + c.system) / calls / size).toFixed(2).padStart(6)} CPU`);
}
