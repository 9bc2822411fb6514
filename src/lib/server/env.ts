// One zod-validated reading of process.env. Code the worker imports reads configuration here,
// never through SvelteKit's $env (which exists only inside Vite).
import { z } from 'zod';

const flag = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .optional()
  .transform((v) => (v === undefined || v === '' ? undefined : ['1', 'true', 'yes'].includes(v)));

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  DATABASE_URL: z.string().url().optional(),
  REDIS_URL: z.string().url().optional(),
  SMTP_URL: z.string().optional(),
  PUBLIC_URL: z.string().url().optional(),
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  PIPET_DATA_DIR: z.string().default('.pipet'),
  // Queue keys live under this prefix; wrapped in {} so every key of a queue hashes to one
  // Redis Cluster slot.
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9:_-]+$/).default('pipet'),
  EVENT_MAX_BYTES: z.coerce.number().int().positive().default(256 * 1024),
  BATCH_MAX_BYTES: z.coerce.number().int().positive().default(4 * 1024 * 1024),
  PUBLIC_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().positive().default(600),
  // The landing page's public playground stream (team/stream), created on first use; `off` disables it.
  DEMO_STREAM: z.union([z.literal('off'), z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}\/[a-z0-9][a-z0-9-]{0,62}$/, 'team/stream or off')]).default('demo/playground'),
  // Sign-up and log-in attempts per 15 minutes, per client address and per account (email).
  AUTH_RATE_LIMIT_PER_ADDRESS: z.coerce.number().int().positive().default(30),
  AUTH_RATE_LIMIT_PER_ACCOUNT: z.coerce.number().int().positive().default(10),
  SSE_HEARTBEAT_MS: z.coerce.number().int().positive().default(15_000),
  EMAIL_FROM: z.string().default('Pipet <noreply@pipet.localhost>'),
  ALLOW_PRIVATE_WEBHOOKS: flag,
  // The reducer sandbox (lib/server/reducers/sandbox.ts).
  SANDBOX_THREADS: z.coerce.number().int().min(1).max(64).default(1),
  SANDBOX_CPU_MS_PER_EVENT: z.coerce.number().positive().max(60_000).default(50),
  SANDBOX_MEMORY_BYTES: z.coerce.number().int().min(24 * 1024 * 1024).max(2 ** 31).default(64 * 1024 * 1024),
  SANDBOX_STATE_BYTES: z.coerce.number().int().positive().default(1024 * 1024),
  SANDBOX_IDLE_MS: z.coerce.number().int().positive().default(10 * 60_000),
  SANDBOX_CACHE_BYTES: z.coerce.number().int().positive().default(1024 * 1024 * 1024),
  SWEEP_INTERVAL_MS: z.coerce.number().int().positive().default(10_000),
  // Effects (issue 5): webhook timeout, and the delays before each delivery attempt (the first is
  // the initial attempt; after the last one the effect is failed). Units ms|s|m|h|d, bare = ms.
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().positive().default(15_000),
  RETRY_SCHEDULE: z
    .string()
    .regex(/^\s*\d+(ms|s|m|h|d)?\s*(,\s*\d+(ms|s|m|h|d)?\s*)*$/, 'a comma-separated list of delays like 0,5s,5m,2h')
    .default('0,5s,5m,30m,2h,5h,10h,10h'),
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
