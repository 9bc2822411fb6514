// The worker process: one BullMQ Worker per queue, plus the periodic sweep that re-enqueues
// anything left behind (how the system recovers when Redis loses its data).
import { Worker } from 'bullmq';
import { env } from '../lib/server/env.ts';
import { createRedis } from '../lib/server/redis.ts';
import { queuePrefix } from '../lib/server/queue/enqueue.ts';
import type { QueueName } from '../lib/server/queue/catalog.ts';
import { closeAll } from '../lib/server/shutdown.ts';
import { runSweep } from './sweep.ts';
import { handlers, processorFor } from './processors/index.ts';

export type RunningWorker = { close(): Promise<void> };

export async function startWorker({ log = console.log }: { log?: (line: string) => void } = {}): Promise<RunningWorker> {
  const workers = (Object.keys(handlers) as QueueName[]).map((name) => {
    const worker = new Worker(name, processorFor(name), { connection: createRedis('worker'), prefix: queuePrefix(), concurrency: handlers[name].slots(env()).concurrency });
    worker.on('error', (err) => log(`[worker:${name}] ${err.message}`));
    worker.on('failed', (job, err) => log(`[worker:${name}] job ${job?.id} failed: ${err.message}`));
    return worker;
  });

  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      await runSweep();
    } catch (err) {
      log(`[sweep] ${(err as Error).message}`);
    } finally {
      sweeping = false;
    }
  };
  const timer = setInterval(sweep, env().SWEEP_INTERVAL_MS);
  void sweep();

  return {
    async close() {
      clearInterval(timer);
      await Promise.all(workers.map((w) => w.close()));
      await closeAll();
    },
  };
}

if (import.meta.main) {
  const worker = await startWorker();
  console.log('Pipet worker running.');
  const stop = async () => {
    await worker.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
