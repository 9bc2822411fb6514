// One zod-validated reading of process.env. Code the worker imports reads configuration here,
// never through SvelteKit's $env (which exists only inside Vite).
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseRedisUrl, RedisUrlError } from './redis-url.ts';

const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : ['1', 'true', 'yes'].includes(v)));

const EnvSchema = z.object({
  // Production unless told otherwise: `npm start` (embedded, for trying Pipet out) sets development.
  NODE_ENV: z.enum(['development', 'production', 'test']).default('production'),
  DATABASE_URL: z.string().url().optional(),
  // One server (redis://, rediss://) or a Redis Cluster's seed nodes (redis+cluster://h:p,h:p, or
  // any of those forms with REDIS_CLUSTER=1): checked by redis-url.ts below.
  REDIS_URL: z.string().optional(),
  REDIS_CLUSTER: flag,
  // How long a request waits on Redis (rate limits, wake-ups, publishes) before going on without
  // it: a frozen Redis keeps its connections open and would otherwise hold every request for the
  // 2 s command timeout. Past it, limits fall back to the process's own and signals are buffered.
  REDIS_FAST_PATH_MS: z.coerce.number().int().min(1).max(2_000).default(100),
  SMTP_URL: z.string().optional(),
  PUBLIC_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PIPET_DATA_DIR: z.string().default('.pipet'),
  // The adapter-node build the CLI runs (svelte.config.js writes it there too).
  PIPET_BUILD_DIR: z.string().default('build'),
  // Web server processes behind one port (node:cluster); 1 runs the server in the CLI's own process.
  WEB_PROCESSES: z.coerce.number().int().min(1).max(256).default(() => availableParallelism()),
  // The bound on every process's graceful shutdown; whatever is still open then is cut.
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  // Queue keys live under this prefix; wrapped in {} so every key of a queue hashes to one
  // Redis Cluster slot.
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('pipet'),
  // Each queue (fold, deliver, timers) is split into this many shard queues, each under a hash tag
  // of its own so that a Redis Cluster spreads them over its masters. Default: 1 on one server
  // (the keys stay `{QUEUE_PREFIX}:…`), 6 on a cluster (even over 1, 2, 3 or 6 masters).
  QUEUE_SHARDS: z.coerce.number().int().min(1).max(64).optional(),
  // The shards this worker process consumes ("0,2"); unset, all of them.
  WORKER_QUEUE_SHARDS: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.split(',').map((s) => s.trim()) : undefined))
    .refine((list) => !list || list.every((s) => /^\d+$/.test(s)), 'shard numbers separated by commas, like 0,2')
    .transform((list) => list?.map(Number)),
  EVENT_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024),
  BATCH_MAX_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  // A slice answer (GET /s/{team}/{stream}) stops at this many bytes of JSON (always at least one
  // event; Link: rel="next" goes on), and is read from PostgreSQL in chunks while it streams out.
  // Chunk reads of slices run at most this many at once per process, so big slices never take the
  // whole database pool from appends.
  SLICE_MAX_BYTES: z.coerce.number().int().min(64 * 1024).default(4 * 1024 * 1024),
  SLICE_READS_PER_PROCESS: z.coerce.number().int().min(1).max(64).default(2),
  PUBLIC_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  // Requests per minute of one API key (or signed-in user) on /s/…, unless the team has its own.
  KEY_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(6_000),
  // API keys and stream settings cached per web process; changes are broadcast (and acknowledged)
  // at once, so this only bounds how long a lost broadcast could leave a cache stale. 0 disables.
  AUTH_CACHE_TTL_MS: z.coerce.number().int().min(0).max(60_000).default(10_000),
  MAX_STREAMS_PER_TEAM: z.coerce.number().int().positive().default(1_000),
  // A person is the unit (issue 23): teams one account may own (admin set-limits --user --max-teams),
  // requests per minute on /s/… across all of the account's teams, and API keys per team.
  TEAMS_PER_ACCOUNT: z.coerce.number().int().positive().default(5),
  ACCOUNT_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(12_000),
  API_KEYS_PER_TEAM: z.coerce.number().int().positive().default(100),
  // Keys one keyed reducer may hold (a team's own limit: admin set-limits --keys-per-reducer).
  KEYS_PER_REDUCER: z.coerce.number().int().positive().default(10_000_000),
  // The landing page's public playground stream (team/stream), created on first use; `off` disables it.
  DEMO_STREAM: z.union([z.literal('off'), z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62}$/, 'team/stream or off')]).default('demo/playground'),
  // Sign-up and log-in attempts per 15 minutes, per client address, and log-in attempts per
  // (account, client address): a stranger's guesses never lock the account's owner out.
  AUTH_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().positive().default(30),
  AUTH_RATE_LIMIT_PER_ACCOUNT: z.coerce.number().int().positive().default(10),
  // The key that encrypts secrets at rest (two-factor keys), AES-256-GCM: 32 random bytes in base64
  // (`openssl rand -base64 32`). Unset outside production, one is made and kept in PIPET_DATA_DIR;
  // unset in production, two-factor authentication refuses to work rather than use a made-up key.
  SECRETS_KEY: z
    .string()
    .optional()
    .refine((v) => !v || (/^[A-Za-z0-9+/]{43}=$/.test(v.trim()) && Buffer.from(v.trim(), 'base64').length === 32), '32 random bytes in base64, like the output of `openssl rand -base64 32`'),
  // Second-factor codes (authenticator or recovery) one account may get wrong per 15 minutes.
  TWO_FACTOR_ATTEMPTS_PER_ACCOUNT: z.coerce.number().int().positive().default(10),
  // Sign in with GitHub: an OAuth app's client id and secret (both, or the button stays hidden and
  // /login/github answers 404). The base URLs are GitHub's; set them for GitHub Enterprise Server
  // (https://HOST and https://HOST/api/v3) or, in tests, for a stub authorization server.
  GITHUB_CLIENT_ID: z.string().trim().optional(),
  GITHUB_CLIENT_SECRET: z.string().trim().optional(),
  GITHUB_OAUTH_URL: z.string().url().default('https://github.com'),
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  SSE_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  // Server-Sent Events and long-polls open at once per web process: per API key or user, and per
  // anonymous client address; how long a stream may live; how often it is re-authorized.
  LIVE_CONNECTIONS_PER_CALLER: z.coerce.number().int().positive().default(100),
  LIVE_CONNECTIONS_PER_ADDRESS: z.coerce.number().int().positive().default(20),
  LIVE_MAX_AGE_MS: z.coerce.number().int().positive().default(60 * 60_000),
  LIVE_REAUTH_MS: z.coerce.number().int().positive().max(60_000).default(30_000),
  // Pipet's own sender: every email goes From this address (display name "<team> via <name>")
  // unless the team verified the domain of its own sender.
  EMAIL_FROM: z
    .string()
    .regex(/^(?:[^@\s<>",]+@[^@\s<>",]+|[^<>\r\n]*<[^@\s<>",]+@[^@\s<>",]+>)$/, 'an address like "Pipet <noreply@pipet.example>"')
    .default('Pipet <noreply@pipet.localhost>'),
  // Emails a team may send per rolling 24 hours (reducers' and invites), unless the team's own
  // `emailQuotaPerDay` says otherwise.
  EMAIL_QUOTA_PER_DAY: z.coerce.number().int().min(0).default(1000),
  // Emails per rolling 24 hours across all the teams of one account (User.emailQuotaPerDay overrides).
  ACCOUNT_EMAIL_QUOTA_PER_DAY: z.coerce.number().int().min(0).default(2000),
  // Recipients one email() may name; both daily quotas count recipients, not emails.
  EMAIL_RECIPIENTS_MAX: z.coerce.number().int().min(1).max(1000).default(50),
  // Timers (schedule()) waiting to fire, per reducer and per team: a batch that would schedule more
  // stops its reducer at that event (the stuck-user recipe holds one per user: 100,000 users fit).
  // A batch that schedules timers counts them, at a cost that grows with the bounds. The longest
  // delay schedule() accepts (default one year).
  TIMERS_PENDING_PER_REDUCER: z.coerce.number().int().positive().default(100_000),
  TIMERS_PENDING_PER_TEAM: z.coerce.number().int().positive().default(250_000),
  TIMER_MAX_DELAY_MS: z.coerce.number().int().positive().default(365 * 24 * 60 * 60 * 1000),
  // DNS servers for sender-domain verification only ("1.1.1.1,[2606:4700::1111]:53,127.0.0.1:5353");
  // unset, the system's resolvers.
  DNS_SERVERS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined))
    .refine((list) => !list || list.every((s) => isIP(s) || isIP(s.replace(/:\d+$/, '')) || isIP(/^\[(.+)\]:\d+$/.exec(s)?.[1] ?? '')), 'IP addresses, optionally with :port ("1.1.1.1,[::1]:53")'),
  // Webhooks to loopback/private addresses: only when set (`npm start` sets it, and says so).
  ALLOW_PRIVATE_WEBHOOKS: flag,
  // The reducer sandbox (lib/server/reducers/sandbox/). Threads default to the machine's cores.
  SANDBOX_THREADS: z.coerce.number().int().min(1).max(64).optional(),
  // Time travel: a snapshot of each reducer's state every this many events, and how much snapshot
  // storage one reducer may keep (the oldest go first beyond it).
  REDUCER_SNAPSHOT_EVERY: z.coerce.number().int().min(10).max(1_000_000).default(1_000),
  // Effects a replay preview lists one by one (the rest are counted by kind).
  PREVIEW_EFFECTS_MAX: z.coerce.number().int().min(0).max(100_000).default(1_000),
  REDUCER_SNAPSHOTS_MAX: z.coerce.number().int().min(1).default(2_000),
  REDUCER_SNAPSHOT_BYTES_MAX: z.coerce.number().int().min(1024).default(64 * 1024 * 1024),
  SANDBOX_INTERACTIVE_THREADS: z.coerce.number().int().min(1).max(16).default(1),
  // Dry runs and compile checks of unsaved code (the web's own small pool), per team.
  DRY_RUN_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(60),
  // Expensive interactive calls (time travel `?at=`, dry runs, compile checks, replay-preview
  // starts) running at once per web process, per team and in all; beyond them a 429 / 503 with
  // Retry-After. Each call may spend this much sandbox CPU in all its slices (more: a clear error).
  INTERACTIVE_CONCURRENCY_PER_TEAM: z.coerce.number().int().min(1).max(64).default(2),
  INTERACTIVE_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  INTERACTIVE_CPU_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  SANDBOX_SLICE_MS: z.coerce.number().int().min(10).max(10_000).default(200),
  SANDBOX_CALL_WALL_MS: z.coerce.number().int().min(100).max(600_000).default(1_000),
  SANDBOX_CPU_MS_PER_EVENT: z.coerce.number().positive().max(60_000).default(50),
  SANDBOX_MEMORY_BYTES: z.coerce.number().int().min(24 * 1024 * 1024).max(2 ** 31).default(64 * 1024 * 1024),
  SANDBOX_STATE_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  SANDBOX_IDLE_MS: z.coerce.number().int().positive().default(10 * 60_000),
  SANDBOX_CACHE_BYTES: z.coerce.number().int().positive().default(1024 * 1024 * 1024),
  SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(10_000),
  // Retention: settled effects (with attempts) and outbox emails, and ended invites, are deleted
  // after this many days; expired sessions at once. Checked at most once per interval.
  EFFECT_RETENTION_DAYS: z.coerce.number().positive().default(30),
  INVITE_RETENTION_DAYS: z.coerce.number().positive().default(30),
  RETENTION_INTERVAL_MS: z.coerce.number().int().positive().default(60 * 60_000),
  // Worker slots per process, and the share of them one team may hold at once.
  FOLD_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(8),
  FOLD_CONCURRENCY_PER_TEAM: z.coerce.number().int().min(1).max(256).default(2),
  DELIVER_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(32),
  DELIVER_CONCURRENCY_PER_TEAM: z.coerce.number().int().min(1).max(1024).default(4),
  // Effects: webhook timeout, and the delays before each delivery attempt (the first is
  // the initial attempt; after the last one the effect is failed). Units ms|s|m|h|d, bare = ms.
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  // After this many failures in a row a destination is paused (30 s, doubling up to 10 min).
  CIRCUIT_BREAKER_FAILURES: z.coerce.number().int().min(1).default(5),
  CIRCUIT_BREAKER_OPEN_MS: z.coerce.number().int().positive().default(30_000),
  RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(ms|s|m|h|d)?\s*(,\s*\d+(ms|s|m|h|d)?\s*)*$/, 'a comma-separated list of delays like 0,5s,5m,2h')
    .default('0,5s,5m,30m,2h,5h,10h,10h'),
})
  .transform((e, ctx) => {
    // REDIS_URL through redis-url.ts: WHATWG URL cannot read a cluster's host list.
    let cluster = false;
    if (e.REDIS_CLUSTER && !e.REDIS_URL) ctx.addIssue({ code: 'custom', path: ['REDIS_CLUSTER'], message: 'needs REDIS_URL naming the seed nodes' });
    if (e.REDIS_URL) {
      try {
        cluster = parseRedisUrl(e.REDIS_URL, { cluster: e.REDIS_CLUSTER ?? false }).mode === 'cluster';
      } catch (error) {
        if (!(error instanceof RedisUrlError)) throw error;
        ctx.addIssue({ code: 'custom', path: ['REDIS_URL'], message: error.message.replace(/^REDIS_URL: /, '') });
      }
    }
    const shards = e.QUEUE_SHARDS ?? (cluster ? 6 : 1);
    const mine = e.WORKER_QUEUE_SHARDS ?? Array.from({ length: shards }, (_, i) => i);
    if (mine.length === 0 || mine.some((i) => i >= shards) || new Set(mine).size !== mine.length) {
      ctx.addIssue({ code: 'custom', path: ['WORKER_QUEUE_SHARDS'], message: `distinct shard numbers from 0 to ${shards - 1} (QUEUE_SHARDS is ${shards})` });
      return z.NEVER;
    }
    return { ...e, QUEUE_SHARDS: shards, WORKER_QUEUE_SHARDS: mine };
  });

export type Env = z.infer<typeof EnvSchema>;

let cached: Env | undefined;

/** The parsed environment. Read lazily so the CLI can fill in embedded defaults first. */
export function env(): Env {
  if (!cached) {
    const parsed = EnvSchema.safeParse(process.env);
    if (!parsed.success) {
      const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
      throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
    }
    cached = parsed.data;
  }
  return cached;
}

/** Forgets the parsed environment, after the CLI has filled in embedded service URLs. */
export function resetEnv(): void {
  cached = undefined;
}

export function requireEnv<K extends 'DATABASE_URL' | 'REDIS_URL'>(key: K): string {
  const value = env()[key];
  if (!value) throw new Error(`${key} is not set (run through \`npm start\` for embedded defaults)`);
  return value;
}

export function isProduction(): boolean {
  return env().NODE_ENV === 'production';
}
