// Entry point of a sandbox worker thread, started by pool.ts with `new Worker(path)` and run by
// plain Node (type stripping), never bundled. Folds one request at a time; the pool's watchdog
// terminates this thread if a call outlives its wall-clock cap.
import { parentPort, workerData } from 'node:worker_threads';
import { evict, runFold, type EngineOptions } from './engine.ts';
import type { ThreadData, ThreadReply, ThreadRequest } from './types.ts';
import type { TimedReply } from './budget.ts';

const data = workerData as ThreadData;
const options: EngineOptions = { progress: new Int32Array(data.progress), idleMs: data.idleMs, cacheBytes: data.cacheBytes };
const port = parentPort;
if (!port) throw new Error('thread.ts runs only as a worker thread');

let chain = Promise.resolve();
port.on('message', (message: ThreadRequest) => {
  chain = chain.then(async () => {
    let reply: TimedReply<ThreadReply>;
    // This thread's own CPU for the call: an interactive call's budget is charged with it.
    const before = process.threadCpuUsage();
    try {
      reply = { id: message.id, result: await runFold(message.req, options) };
    } catch (error) {
      reply = { id: message.id, failure: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    const used = process.threadCpuUsage(before);
    reply.cpuMs = (used.user + used.system) / 1000;
    port.postMessage(reply);
    evict(options);
  });
});

setInterval(() => evict(options), Math.min(60_000, data.idleMs)).unref();
// Warm up (the first engine pays for QuickJS's lazy initialisation), then accept calls: the pool
// starts a call's wall clock when it sends it, so that cost must not land on a reducer.
const started = performance.now();
await runFold(
  { cacheKey: 'warm-up', code: '(s) => s', stateJson: 'null', events: [{ index: 0, bodyJson: 'null', receivedAt: 0 }], stream: { team: '', name: '', length: 1 }, limits: { cpuMsPerEvent: 1000, memoryBytes: 32 * 1024 * 1024, stateBytes: 1024 }, sliceMs: 1000, keep: false },
  options,
).catch(() => {});
port.postMessage({ ready: true, warmUpMs: performance.now() - started } satisfies ThreadReply);
