// The worker process: one BullMQ Worker per shard of each queue it consumes (all shards, or
// WORKER_QUEUE_SHARDS), plus the periodic sweep that re-enqueues anything left behind (how the
// system recovers when Redis loses its data, or a cluster failover drops a write).
import { Worker } from 'bullmq';
import { env } from '../lib/server/env.ts';
import { createRedis } from '../lib/server/redis.ts';
import { queuePrefix } from '../lib/server/queue/enqueue.ts';
import { concurrencyPerShard } from '../lib/server/queue/shards.ts';
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
  const { QUEUE_SHARDS, WORKER_QUEUE_SHARDS: shards } = env();
  const workers = (Object.keys(handlers) as QueueName[]).flatMap((name) => {
    // One connection for the queue's shards (each Worker also opens its own blocking one); BullMQ
    // does not close a connection it was given.
    const connection = createRedis('worker');
    closeOnShutdown(() => connection.quit().catch(() => connection.disconnect()));
    // The process's slots for this queue are shared out over the shards it consumes, and the
    // team shares are counted over all of them (one processor).
    const concurrency = concurrencyPerShard(handlers[name].slots(env()).concurrency, shards.length);
    const processor = processorFor(name, concurrency * shards.length);
    return shards.map((shard) => {
      const label = QUEUE_SHARDS > 1 ? `${name}/${shard}` : name;
      const worker = new Worker(name, processor, { connection, prefix: queuePrefix(shard), concurrency });
      worker.on('error', (err) => log(`[worker:${label}] ${err.message}`));
      worker.on('failed', (job, err) => log(`[worker:${label}] job ${job?.id} failed: ${err.message}`));
      return worker;
    });
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
        // Raced against the bound: besides jobs that run long, Worker.close() can wait forever for
        // its blocking connection's end right after a Redis Cluster failover.
        const drained = await settlesWithin(Promise.all([...workers.map((w) => w.close()), sweeping]), bound - budget);
        if (!drained) {
          // Processors that take BullMQ's abort signal stop now; the others are cut when the process exits.
          for (const w of workers) w.cancelAllJobs('shutting down');
          log(`[worker] not drained after ${bound - budget} ms (jobs still running, or a Redis connection that would not close): what runs is left to the next worker.`);
        }
        // A third of the budget (at most 500 ms) is left for the process to exit once this returns.
        await settlesWithin(Promise.all([...(drained ? [] : workers.map((w) => w.close(true).catch(() => {}))), closeAll()]), budget - Math.min(500, Math.floor(budget / 3)));
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
