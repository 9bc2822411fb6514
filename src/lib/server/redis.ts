// Redis connections. Producers fail fast and never queue commands while disconnected (an append
// must not wait on Redis: PostgreSQL is the source of truth and the sweep repairs lost wake-ups);
// workers block forever as BullMQ requires (`maxRetriesPerRequest: null`).
import { Redis, type RedisOptions } from 'ioredis';
import { env, requireEnv } from './env.ts';

export function createRedis(kind: 'producer' | 'worker' | 'subscriber', overrides: RedisOptions = {}): Redis {
  const options: RedisOptions =
    kind === 'producer'
      ? { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 2_000, enableOfflineQueue: false }
      : { maxRetriesPerRequest: null };
  const redis = new Redis(requireEnv('REDIS_URL'), { ...options, ...overrides });
  // Errors surface on the commands that fail; an unhandled 'error' event would crash the process.
  redis.on('error', () => {});
  return redis;
}

let producer: Redis | undefined;

export function redis(): Redis {
  if (!producer) {
    const created = createRedis('producer');
    created.once('ready', () => connectedOnce.add(created));
    producer = created;
  }
  return producer;
}

/**
 * Whether the producer connection can take a command. While the process's first connection is
 * being made this waits for it (bounded by the connect timeout); later, a connection that is down
 * answers false at once and reconnects by itself.
 */
export async function redisReady(): Promise<boolean> {
  const r = redis();
  if (r.status === 'ready') return true;
  if (!['wait', 'connecting', 'connect'].includes(r.status) || connectedOnce.has(r)) return false;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      r.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), 2_000);
    r.once('ready', onReady);
  });
}

const connectedOnce = new WeakSet<Redis>();

/** Key prefix for everything Pipet keeps in Redis besides queues (rate limits, pub/sub channels). */
export function redisKey(...parts: string[]): string {
  return [env().QUEUE_PREFIX, ...parts].join(':');
}

export async function closeRedis(): Promise<void> {
  const r = producer;
  producer = undefined;
  await r?.quit().catch(() => r.disconnect());
}
