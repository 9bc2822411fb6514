// A private Redis for `npm start` with no REDIS_URL: `redis-server` from the PATH, keeping nothing
// on disk (PostgreSQL is the source of truth; the sweep refills the queues).
import { spawn, spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from './free-port.ts';

export type EmbeddedRedis = { url: string; stop(): Promise<void> };

export class MissingRedisError extends Error {}

export async function startEmbeddedRedis(): Promise<EmbeddedRedis> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new MissingRedisError('Pipet needs Redis: install redis-server (apt-get install redis-server) or set REDIS_URL.');
  }
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], {
    stdio: 'ignore',
  });
  const url = `redis://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      break;
    } catch {
      probe.disconnect();
      if (child.exitCode !== null || Date.now() > deadline) throw new Error('redis-server did not start.');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
