// Rate limits live in Redis (several web processes share them); if Redis is unreachable, failing or
// slower than REDIS_FAST_PATH_MS (frozen), a per-process limiter stands in rather than letting
// everything through, failing requests or holding them. On a Redis Cluster nothing changes: each
// call touches one key, so callers spread over the shards.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from './errors.ts';
import { env } from './env.ts';
import { fastPath, redis, type FastAnswer } from './redis.ts';

const limiters = new Map<string, RateLimiterRedis>();
/** Each Redis limiter's stand-in in this process. */
const standIns = new WeakMap<RateLimiterRedis, RateLimiterMemory>();

/** Per team, per minute: management reads whose cost grows with the data (a reducer's key growth, the team's keyed storage). */
export const SCAN_RATE_LIMIT_PER_MINUTE = 30;

export function limiter(name: string, points: number, durationSeconds: number): RateLimiterRedis {
  const id = `${name}:${points}:${durationSeconds}`;
  let l = limiters.get(id);
  if (!l) {
    // No insuranceLimiter: consume() falls back itself, also when Redis merely answers late (the
    // library's insurance would wait out the command timeout, then count the point twice).
    l = new RateLimiterRedis({ storeClient: redis(), keyPrefix: `${env().QUEUE_PREFIX}:rl:${name}`, points, duration: durationSeconds });
    limiters.set(id, l);
  }
  return l;
}

function standInOf(l: RateLimiterRedis): RateLimiterMemory {
  let standIn = standIns.get(l);
  if (!standIn) {
    standIn = new RateLimiterMemory({ points: l.points, duration: l.duration });
    standIns.set(l, standIn);
  }
  return standIn;
}

/** Redis' count when it answers within the fast path's bound, else this process's own. Rejects with a RateLimiterRes when over. */
async function consumePoint(l: RateLimiterRedis, key: string): Promise<RateLimiterRes> {
  const answer = await fastPath(() => l.consume(key)).catch((e: unknown): FastAnswer<RateLimiterRes> => {
    if (e instanceof RateLimiterRes) throw e;
    return { answered: false };
  });
  return answer.answered ? answer.value : standInOf(l).consume(key);
}

/** Where a caller stands against a limit, as the `RateLimit-*` headers say it. */
export type RateLimitState = { limit: number; remaining: number; resetSeconds: number };

/** Consumes one point for `key`; throws a 429 AppError with Retry-After when over the limit. */
export async function consume(l: RateLimiterRedis, key: string, message = 'Too many requests; slow down.'): Promise<RateLimitState> {
  try {
    const res = await consumePoint(l, key);
    return { limit: l.points, remaining: res.remainingPoints, resetSeconds: Math.max(0, Math.ceil(res.msBeforeNext / 1000)) };
  } catch (e) {
    if (e instanceof RateLimiterRes) {
      const retryAfter = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
      throw new AppError('rate_limited', message, { retryAfter, details: { limit: l.points, remaining: 0, resetSeconds: retryAfter } satisfies RateLimitState });
    }
    throw e;
  }
}

/** `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (IETF httpapi draft), for a response. */
export function rateLimitHeaders({ limit, remaining, resetSeconds }: RateLimitState): Record<string, string> {
  return { 'ratelimit-limit': String(limit), 'ratelimit-remaining': String(Math.max(0, remaining)), 'ratelimit-reset': String(resetSeconds) };
}

export function publicStreamLimiter(): RateLimiterRedis {
  return limiter('public', env().PUBLIC_RATE_LIMIT_PER_MINUTE, 60);
}

/** Requests per minute of one API key or signed-in user on the public API: the team's own limit, else the default. */
export function callerLimiter(teamLimit: number | null): RateLimiterRedis {
  return limiter('caller', teamLimit ?? env().KEY_RATE_LIMIT_PER_MINUTE, 60);
}

/**
 * What the limits of a team count against: the team itself and the person accountable for it
 * (`Team.accountId`, its owner), whose limit spans all of their teams. A team without an account is
 * its own account, so it is never exempt.
 */
export type LimitedTeam = { id: string; rateLimitPerMinute: number | null; accountId: string | null; accountRateLimitPerMinute: number | null };

/** The key a team's account is counted under. */
export function accountKey(team: Pick<LimitedTeam, 'id' | 'accountId'>): string {
  return team.accountId ? `user:${team.accountId}` : `team:${team.id}`;
}

function teamLimiters(team: LimitedTeam): [RateLimiterRedis, string][] {
  return [
    [limiter('team', team.rateLimitPerMinute ?? env().KEY_RATE_LIMIT_PER_MINUTE, 60), team.id],
    [limiter('account', team.accountRateLimitPerMinute ?? env().ACCOUNT_RATE_LIMIT_PER_MINUTE, 60), accountKey(team)],
  ];
}

/** The tightest of several limits: the one with the fewest requests left. */
function tightest(states: RateLimitState[]): RateLimitState {
  return states.reduce((a, b) => (b.remaining < a.remaining ? b : a));
}

/**
 * One request of `caller` against every limit it counts toward: its own (a key, a signed-in user,
 * an anonymous address), its team's across all of the team's keys, and its account's across all of
 * the account's teams. The three are spent together; the first refusal wins.
 */
export async function consumeRequest(caller: [RateLimiterRedis, string], team: LimitedTeam): Promise<RateLimitState> {
  const settled = await Promise.allSettled([caller, ...teamLimiters(team)].map(([l, key]) => consume(l, key, l === caller[0] ? undefined : limitMessage(l))));
  const refused = settled.find((s) => s.status === 'rejected');
  if (refused) throw refused.reason;
  return tightest(settled.map((s) => (s as PromiseFulfilledResult<RateLimitState>).value));
}

function limitMessage(l: RateLimiterRedis): string {
  return l.keyPrefix.endsWith(':account')
    ? `Too many requests across all the teams of this team's owner (${l.points} a minute); slow down.`
    : `Too many requests for this team across all its keys (${l.points} a minute); slow down.`;
}

/** Spends one request of a team's (and its account's) per-minute budget on an append Pipet makes itself (a timer's event); throws a 429 AppError when over. */
export async function spendTeamAppend(team: { id: string; rateLimitPerMinute: number | null; accountId: string | null; accountRateLimitPerMinute?: number | null }): Promise<void> {
  const full: LimitedTeam = { ...team, accountRateLimitPerMinute: team.accountRateLimitPerMinute ?? null };
  for (const [l, key] of teamLimiters(full)) await consume(l, key, limitMessage(l));
}
