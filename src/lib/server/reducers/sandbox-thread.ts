// Entry point of a sandbox worker thread, started by sandbox.ts with `new Worker(path)` and run by
// plain Node (type stripping), never bundled. Folds one request at a time; the caller's watchdog
// terminates this thread if a fold outlives its hard limit.
import { parentPort, workerData } from 'node:worker_threads';
import { evict, runFold, type EngineOptions } from './sandbox/engine.ts';
import type { FoldRequest, SandboxLimits } from './sandbox.ts';

export type ThreadData = { progress: SharedArrayBuffer; idleMs: number; cacheBytes: number };
export type ThreadRequest = { id: number; req: FoldRequest & { limits: SandboxLimits } };
export type ThreadReply = { id: number; result?: Awaited<ReturnType<typeof runFold>>; failure?: string };

const data = workerData as ThreadData;
const options: EngineOptions = { progress: new Int32Array(data.progress), idleMs: data.idleMs, cacheBytes: data.cacheBytes };
const port = parentPort;
if (!port) throw new Error('sandbox-thread.ts runs only as a worker thread');

let chain = Promise.resolve();
port.on('message', (message: ThreadRequest) => {
  chain = chain.then(async () => {
    let reply: ThreadReply;
    try {
      reply = { id: message.id, result: await runFold(message.req, options) };
    } catch (error) {
      reply = { id: message.id, failure: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
    }
    port.postMessage(reply);
    evict(options);
  });
});

setInterval(() => evict(options), Math.min(60_000, data.idleMs)).unref();
