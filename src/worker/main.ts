// The worker process: one BullMQ Worker per queue, plus the periodic sweep that re-enqueues
// anything left behind (how the system recovers when Redis loses its data).
import { Worker } from 'bullmq';
import { env } from '../lib/server/env.ts';
import { createRedis } from '../lib/server/redis.ts';
import { queuePrefix } from '../lib/server/queue/enqueue.ts';
import type { QueueName } from '../lib/server/queue/catalog.ts';
import { closeAll, closeOnShutdown } from '../lib/server/shutdown.ts';
import { closingBudget, exitOnSignal, settlesWithin } from '../lib/server/lifecycle.ts';
import { runSweep } from './sweep.ts';
import { handlers, processorFor } from './processors/index.ts';

export type RunningWorker = {
  /**
   * Stops taking jobs and waits for the running ones, within SHUTDOWN_TIMEOUT_MS minus the time
   * kept for closing pools; then closes everything. Resolves false when jobs were still running at
   * that point: they are left active in Redis, and BullMQ's stalled-job check hands them to the next
   * worker (the fold's cursor guard and the effects' ids make running them again safe).
   */
  close(): Promise<boolean>;
};

export async function startWorker({ log = console.log }: { log?: (line: string) => void } = {}): Promise<RunningWorker> {
  const workers = (Object.keys(handlers) as QueueName[]).map((name) => {
    // BullMQ does not close a connection it was given.
    const connection = createRedis('worker');
    closeOnShutdown(() => connection.quit().catch(() => connection.disconnect()));
    const worker = new Worker(name, processorFor(name), { connection, prefix: queuePrefix(), concurrency: handlers[name].slots(env()).concurrency });
    worker.on('error', (err) => log(`[worker:${name}] ${err.message}`));
    worker.on('failed', (job, err) => log(`[worker:${name}] job ${job?.id} failed: ${err.message}`));
    return worker;
  });

  let sweeping: Promise<void> | undefined;
  const sweep = () =>
    (sweeping ??= runSweep()
      .catch((err: Error) => log(`[sweep] ${err.message}`))
      .finally(() => (sweeping = undefined)));
  const timer = setInterval(sweep, env().SWEEP_INTERVAL_MS);
  void sweep();

  let closing: Promise<boolean> | undefined;
  return {
    close: () =>
      (closing ??= (async () => {
        clearInterval(timer);
        const bound = env().SHUTDOWN_TIMEOUT_MS;
        const budget = closingBudget(bound);
        const drained = await settlesWithin(Promise.all([...workers.map((w) => w.close()), sweeping]), bound - budget);
        if (!drained) {
          // Processors that take BullMQ's abort signal stop now; the others are cut when the process exits.
          for (const w of workers) w.cancelAllJobs('shutting down');
          log(`[worker] jobs still running after ${bound - budget} ms are left to the next worker.`);
        }
        await settlesWithin(closeAll(), budget - 100);
        return drained;
      })()),
  };
}

/** Runs the worker until SIGTERM/SIGINT (or its supervisor's exit), then drains within the bound. */
export async function runWorkerProcess({ log = console.log, after = async () => {} }: { log?: (line: string) => void; after?: () => Promise<void> } = {}): Promise<void> {
  const worker = await startWorker({ log });
  log('Pipet worker running.');
  exitOnSignal(
    async (reason) => {
      log(`[worker ${process.pid}] ${reason}: taking no new jobs; finishing the running ones.`);
      await worker.close();
      await after();
    },
    { log },
  );
}

if (import.meta.main) await runWorkerProcess();
