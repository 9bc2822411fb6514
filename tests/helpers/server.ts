// A real Pipet web server (the adapter-node build) or worker in a child process.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { inject } from 'vitest';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

/** This run's build (global setup builds once; its own server starts before `inject` exists). */
function buildDir(): string {
  return process.env.PIPET_TEST_BUILD_DIR ?? inject('buildDir');
}

export type Running = { url: string; child: ChildProcess; output: () => string; stop(): Promise<void>; kill(signal?: NodeJS.Signals): Promise<void> };

export type ServiceEnv = { DATABASE_URL: string; REDIS_URL: string; QUEUE_PREFIX: string } & Record<string, string>;

function exited(child: ChildProcess): Promise<void> {
  return new Promise((res) => (child.exitCode !== null || child.signalCode !== null ? res() : child.once('exit', () => res())));
}

function run(args: string[], env: Record<string, string>, url = ''): Running {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...args], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited(child);
  };
  // A graceful stop that takes too long is a bug worth seeing, but must not hang the run.
  const stop = async () => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await kill('SIGTERM');
    clearTimeout(timer);
  };
  return { url, child, output: () => out, stop, kill };
}

export async function startWeb(env: ServiceEnv): Promise<Running> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = run([join(buildDir(), 'index.js')], { HOST: '127.0.0.1', PORT: String(port), ORIGIN: url, BODY_SIZE_LIMIT: '16M', ...env }, url);
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      await fetch(`${url}/thanks`);
      return server;
    } catch {
      if (server.child.exitCode !== null || Date.now() > deadline) throw new Error(`The server did not start:\n${server.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export function startWorkerProcess(env: ServiceEnv): Running {
  return run(['src/worker/main.ts'], env);
}

/**
 * A `pipet` CLI command (`web`, `worker`, …) as production runs it, on this run's build, resolved
 * once its output matches `ready`. `url` is set from PORT when given.
 */
export async function startCli(command: string[], env: ServiceEnv, ready: RegExp, timeoutMs = 60_000): Promise<Running> {
  const url = env.PORT ? `http://127.0.0.1:${env.PORT}` : '';
  const cli = run(['src/cli/main.ts', ...command], { PIPET_BUILD_DIR: buildDir(), ...env }, url);
  const deadline = Date.now() + timeoutMs;
  while (!ready.test(cli.output())) {
    if (cli.child.exitCode !== null || Date.now() > deadline) {
      await cli.kill();
      throw new Error(`\`pipet ${command.join(' ')}\` did not become ready:\n${cli.output()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return cli;
}

/** Waits until `pattern` matches the output (after `from` characters); returns the match. */
export async function waitForOutput(running: Running, pattern: RegExp, { from = 0, timeoutMs = 30_000 } = {}): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(running.output().slice(from));
    if (match) return match;
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the output:\n${running.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Resolves with the exit code, or null if `child` has not exited within `ms`. */
export function exitWithin(child: ChildProcess, ms: number): Promise<{ code: number | null; signal: string | null } | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve({ code: child.exitCode, signal: child.signalCode });
    const timer = setTimeout(() => resolve(null), ms);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}
