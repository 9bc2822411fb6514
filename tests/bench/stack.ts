// The processes a benchmark run starts: Pipet's production build (web = adapter-node, worker =
// src/worker/main.ts, NODE_ENV=production) and the bare floor server, each a child process whose
// resident memory can be read. Also the run's own databases and Redis prefix, removed afterwards.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';
import { applyMigrations } from '../../src/lib/server/db/migrate.ts';
import { createDatabase, deleteRedisPrefix, dropDatabase, testServices, type TestServices } from '../helpers/services.ts';
import { sleep } from './client.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export type Proc = { name: string; child: ChildProcess; output(): string; rssMb(): number; cpuMs(): number; stop(): Promise<void> };

/** A Node child process (this Node, so Node 24), its output kept (the tail) for error messages. */
export function spawnNode(name: string, args: string[], env: Record<string, string>, nodeFlags: string[] = []): Proc {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...nodeFlags, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
  return {
    name,
    child,
    output: () => out,
    rssMb: () => rssMb(child.pid!),
    cpuMs: () => cpuMs(child.pid!),
    // Graceful, so --cpu-prof writes its profile; a stop that hangs is cut short.
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => {
        process.stderr.write(`${name} did not exit within 30 s of SIGTERM: killed\n`);
        child.kill('SIGKILL');
      }, 30_000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of a process, MiB (Linux /proc; includes its worker threads). */
export function rssMb(pid: number): number {
  try {
    const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    if (kb) return Number(kb) / 1024;
  } catch {
    /* not Linux, or gone */
  }
  const ps = spawnSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return Number(ps.stdout.trim()) / 1024 || NaN;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU time (user + system, all threads) a process has used so far, ms (Linux /proc; else NaN). */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}

/**
 * CPU time PostgreSQL has used so far, ms: every live process of its server's user (`postgres`),
 * plus what the postmaster has collected from backends that exited (its `cutime` + `cstime`), so a
 * connection closed between two readings keeps counting. A backend's CPU per statement is what sizes
 * a primary.
 */
export function postgresCpuMs(): number {
  const pids = spawnSync('pgrep', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map(Number);
  const stats = pids.map((pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { pid, ppid: Number(f[1]), own: Number(f[11]) + Number(f[12]), reaped: Number(f[13]) + Number(f[14]) };
    } catch {
      return null;
    }
  }).filter((s) => s !== null);
  const ours = new Set(stats.map((s) => s.pid));
  // Postmasters: PostgreSQL processes whose parent is not one (one per running cluster).
  const ticks = stats.reduce((sum, s) => sum + s.own + (ours.has(s.ppid) ? 0 : s.reaped), 0);
  return (ticks * 1000) / CLOCK_TICKS;
}

async function waitFor(proc: Proc, ready: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start:\n${proc.output()}`);
    await sleep(100);
  }
}

/** `vite build` into a folder of this run's own (as tests/helpers/global-setup.ts does). */
export function buildPipet(buildRoot: string): string {
  const buildDir = join(buildRoot, 'build');
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], {
    cwd: ROOT,
    env: { ...process.env, PIPET_BUILD_DIR: buildDir, PIPET_KIT_DIR: join(buildRoot, 'kit') },
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`vite build failed:\n${built.stdout}\n${built.stderr}`);
  return buildDir;
}

export type PipetEnv = { DATABASE_URL: string; REDIS_URL: string; QUEUE_PREFIX: string } & Record<string, string>;

export type Pipet = { url: string; web: Proc; worker: Proc; stop(): Promise<void> };

/** Web (`node build/index.js`) and worker, in production mode, with private webhooks allowed (the receiver is on loopback). */
export async function startPipet({ buildDir, env, webEnv = {}, workerEnv = {}, nodeFlags = [] }: { buildDir: string; env: PipetEnv; webEnv?: Record<string, string>; workerEnv?: Record<string, string>; nodeFlags?: string[] }): Promise<Pipet> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // The load comes from one key and one address: the per-key and per-address limits are lifted.
  const common = { NODE_ENV: 'production', ALLOW_PRIVATE_WEBHOOKS: 'true', KEY_RATE_LIMIT_PER_MINUTE: '1000000000', LIVE_CONNECTIONS_PER_CALLER: '100000', ...env };
  // SHUTDOWN_TIMEOUT: adapter-node closes lingering connections after 3 s, so a stop after a
  // saturating load ends (and --cpu-prof writes its profile) before the stop's hard limit.
  const web = spawnNode('web', [join(buildDir, 'index.js')], { ...common, HOST: '127.0.0.1', PORT: String(port), ORIGIN: url, SHUTDOWN_TIMEOUT: '3', ...webEnv }, nodeFlags);
  const worker = spawnNode('worker', ['src/worker/main.ts'], { ...common, ...workerEnv }, nodeFlags);
  try {
    await waitFor(web, async () => (await fetch(`${url}/thanks`)).ok, 'The web process');
    await waitFor(worker, async () => worker.output().includes('Pipet worker running'), 'The worker');
  } catch (error) {
    await Promise.all([web.stop(), worker.stop()]);
    throw error;
  }
  return { url, web, worker, stop: async () => void (await Promise.all([web.stop(), worker.stop()])) };
}

export async function startFloor({ databaseUrl, streamId }: { databaseUrl: string; streamId: string }): Promise<{ url: string; proc: Proc }> {
  const proc = spawnNode('floor', ['tests/bench/floor-server.ts'], { FLOOR_DATABASE_URL: databaseUrl, FLOOR_STREAM_ID: streamId, PORT: '0' });
  let port = 0;
  await waitFor(proc, async () => !!(port = Number(/listening (\d+)/.exec(proc.output())?.[1] ?? 0)), 'The floor server');
  return { url: `http://127.0.0.1:${port}`, proc };
}

/** A migrated database of this run's own, a Redis prefix and a build folder; `cleanup` removes them all. */
export async function benchResources(id: string): Promise<{ services: TestServices; databaseUrl: string; prefix: string; buildRoot: string; cleanup(): Promise<void> }> {
  const services = await testServices();
  const dbName = `pipet_${id}`;
  const prefix = `pipet-${id}`;
  const buildRoot = join(ROOT, '.test-builds', id);
  const cleanup = async () => {
    await dropDatabase(services.adminUrl, dbName).catch((e) => console.error(`could not drop ${dbName}: ${e}`));
    await deleteRedisPrefix(services.redisUrl, prefix).catch((e) => console.error(`could not clean Redis ${prefix}: ${e}`));
    await services.stop();
    rmSync(buildRoot, { recursive: true, force: true });
  };
  try {
    const databaseUrl = await createDatabase(services.adminUrl, dbName);
    await applyMigrations(databaseUrl);
    return { services, databaseUrl, prefix, buildRoot, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
