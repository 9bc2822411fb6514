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
  producer ??= createRedis('producer');
  return producer;
}

/** Whether the producer connection can take a command now (it reconnects by itself when not). */
export function redisReady(): boolean {
  return redis().status === 'ready';
}

/** Key prefix for everything Pipet keeps in Redis besides queues (rate limits, pub/sub channels). */
export function redisKey(...parts: string[]): string {
  return [env().QUEUE_PREFIX, ...parts].join(':');
}

export async function closeRedis(): Promise<void> {
  const r = producer;
  producer = undefined;
  await r?.quit().catch(() => r.disconnect());
}
