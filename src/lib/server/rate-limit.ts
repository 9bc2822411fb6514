// Rate limits live in Redis (several web processes share them); if Redis is unreachable a
// per-process limiter stands in rather than letting everything through or failing requests.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from './errors.ts';
import { env } from './env.ts';
import { redis } from './redis.ts';

const limiters = new Map<string, RateLimiterRedis>();

export function limiter(name: string, points: number, durationSeconds: number): RateLimiterRedis {
  const id = `${name}:${points}:${durationSeconds}`;
  let l = limiters.get(id);
  if (!l) {
    l = new RateLimiterRedis({
      storeClient: redis(),
      keyPrefix: `${env().QUEUE_PREFIX}:rl:${name}`,
      points,
      duration: durationSeconds,
      insuranceLimiter: new RateLimiterMemory({ points, duration: durationSeconds }),
    });
    limiters.set(id, l);
  }
  return l;
}

/** Consumes one point for `key`; throws a 429 AppError with Retry-After when over the limit. */
export async function consume(l: RateLimiterRedis, key: string, message = 'Too many requests; slow down.'): Promise<void> {
  try {
    await l.consume(key);
  } catch (e) {
    if (e instanceof RateLimiterRes) {
      throw new AppError('rate_limited', message, { retryAfter: Math.max(1, Math.ceil(e.msBeforeNext / 1000)) });
    }
    throw e;
  }
}

export function publicStreamLimiter(): RateLimiterRedis {
  return limiter('public', env().PUBLIC_RATE_LIMIT_PER_MINUTE, 60);
}
