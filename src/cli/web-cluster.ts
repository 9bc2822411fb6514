// WEB_PROCESSES ≥ 2: a node:cluster primary holds the listening socket and hands connections to its
// web processes. SIGHUP replaces them one at a time, each replacement listening before its
// predecessor drains, so a restart refuses no connection; a deploy is a new build, then SIGHUP.
import cluster, { type Worker } from 'node:cluster';
import { realpathSync } from 'node:fs';
import { join } from 'node:path';
import { env } from '../lib/server/env.ts';
import { exitOnSignal, SUPERVISOR_GRACE_MS } from '../lib/server/lifecycle.ts';
import { stopChild } from './children.ts';
import { buildDir } from './services.ts';

export type WebClusterOptions = { processes: number; stop(): Promise<void>; log?: (line: string) => void };

export async function runWebCluster({ processes, stop, log = console.log }: WebClusterOptions): Promise<void> {
  const bound = env().SHUTDOWN_TIMEOUT_MS;
  const serving = new Set<Worker>();
  let stopping = false;
  let rolling: Promise<void> | undefined;
  const pids = () => [...serving].map((w) => w.process.pid).join(', ');

  const fork = (): Worker => {
    // Resolved at each fork: with PIPET_BUILD_DIR a symlink to a release, SIGHUP moves to the new one
    // while the old processes keep the files they were started from.
    cluster.setupPrimary({ exec: realpathSync(join(buildDir(), 'index.js')), args: [], execArgv: ['--disable-warning=ExperimentalWarning'] });
    const worker = cluster.fork();
    worker.once('exit', (code, signal) => {
      if (stopping || !serving.delete(worker)) return; // retired, or never started (its starter reports it)
      log(`[web primary] web process ${worker.process.pid} died (${signal ?? code}); starting another.`);
      void replace();
    });
    return worker;
  };
  const listening = (worker: Worker) =>
    new Promise<boolean>((resolve) => {
      worker.once('listening', () => resolve(true));
      worker.once('exit', () => resolve(false));
    });
  const start = async (): Promise<Worker | null> => {
    const worker = fork();
    if (!(await listening(worker))) return null;
    if (stopping) return worker;
    serving.add(worker);
    return worker;
  };
  const retire = (worker: Worker) => {
    serving.delete(worker);
    return stopChild(worker.process, 'SIGTERM', bound + SUPERVISOR_GRACE_MS);
  };
  // A crashed web process comes back, more slowly each time it fails to start.
  const replace = async (delayMs = 500) => {
    while (!stopping) {
      await new Promise((r) => setTimeout(r, delayMs));
      if (stopping || (await start())) return;
      delayMs = Math.min(delayMs * 2, 30_000);
    }
  };

  const roll = () =>
    (rolling ??= (async () => {
      log(`[web primary] SIGHUP: restarting ${serving.size} web processes one at a time...`);
      for (const old of [...serving]) {
        if (stopping) break;
        const t0 = Date.now();
        const next = await start();
        if (!next) {
          log('[web primary] a new web process failed to start (see above); the others keep serving.');
          break;
        }
        const t1 = Date.now();
        const outcome = await retire(old);
        log(`[web primary] web process ${old.process.pid} replaced by ${next.process.pid} (listening after ${t1 - t0} ms; the old one ${outcome} after ${Date.now() - t1} ms).`);
      }
      log(`[web primary] rolling restart done: web processes ${pids()}.`);
    })().finally(() => (rolling = undefined)));

  exitOnSignal(
    async (reason) => {
      stopping = true;
      const all = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
      log(`[web primary] ${reason}: stopping ${all.length} web processes...`);
      await Promise.all(all.map((w) => stopChild(w.process, 'SIGTERM', bound + SUPERVISOR_GRACE_MS)));
      await stop();
    },
    { log, boundMs: bound + 2 * SUPERVISOR_GRACE_MS, onHangup: () => void roll() },
  );

  const first = await Promise.all(Array.from({ length: processes }, start));
  if (first.some((w) => !w)) {
    stopping = true;
    await Promise.all(first.map((w) => w && stopChild(w.process, 'SIGTERM', bound + SUPERVISOR_GRACE_MS)));
    throw new Error('A web process failed to start (see above).');
  }
  log(`Pipet web listening on ${process.env.ORIGIN} with ${processes} processes (${pids()}); \`kill -HUP ${process.pid}\` restarts them one at a time.`);
}
