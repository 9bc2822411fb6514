// Where the CLI's commands get PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, else the
// embedded ones of a running `pipet start` (recorded in the data folder), else fresh embedded ones
// kept by a process of their own (keeper.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pgReachable, redisReachable } from '../lib/server/embedded/reachable.ts';
import { env, resetEnv } from '../lib/server/env.ts';
import { applyMigrations } from '../lib/server/db/migrate.ts';
import { servicesFile, spawnKeeper, type Keeper } from './keeper.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
/** The adapter-node build the CLI runs: PIPET_BUILD_DIR, where svelte.config.js writes it too. */
export const buildDir = () => resolve(ROOT, env().PIPET_BUILD_DIR);

type Services = { databaseUrl: string; redisUrl: string; embedded: boolean };

/**
 * Runs `fn` with PostgreSQL and Redis available and migrated, starting embedded ones if needed and
 * stopping what it started afterwards (unless `keep`, for the long-running commands: they stop the
 * services themselves, and the keeper stops them anyway once its parent process is gone).
 */
export async function withServices<T>(
  { quiet = false, keep = false }: { quiet?: boolean; keep?: boolean },
  fn: (s: Services & { keeper?: Keeper; stop(): Promise<void> }) => Promise<T>,
): Promise<T> {
  const log = (line: string) => quiet || console.log(line);
  let { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = env();

  if (!databaseUrl || !redisUrl) {
    const recorded = existsSync(servicesFile()) ? (JSON.parse(readFileSync(servicesFile(), 'utf8')) as Services) : null;
    if (recorded && (await pgReachable(recorded.databaseUrl, 1_000)) && (await redisReachable(recorded.redisUrl, 1_000))) {
      databaseUrl ??= recorded.databaseUrl;
      redisUrl ??= recorded.redisUrl;
    }
  }
  let keeper: Keeper | undefined;
  if (!databaseUrl || !redisUrl) {
    // The keeper reads the same environment: it starts only what has no URL.
    if (databaseUrl) process.env.DATABASE_URL = databaseUrl;
    if (redisUrl) process.env.REDIS_URL = redisUrl;
    keeper = await spawnKeeper({ quiet, record: keep });
    databaseUrl ??= keeper.databaseUrl!;
    redisUrl ??= keeper.redisUrl!;
  }
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
  resetEnv();
  const stop = async () => keeper?.stop();
  try {
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) log(`Applied migrations: ${applied.join(', ')}`);
    const result = await fn({ databaseUrl, redisUrl, embedded: !!keeper, keeper, stop });
    if (!keep) await stop();
    return result;
  } catch (error) {
    await stop();
    throw error;
  }
}

function newestMtime(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(s.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/** Builds the SvelteKit app when the build is missing or older than the sources. */
export function ensureBuilt(log: (line: string) => void = console.log): void {
  const built = join(buildDir(), 'index.js');
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'svelte.config.js')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  log('Building the web app...');
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  // Always a production build: with NODE_ENV=development or test, `$app/environment`'s `dev` is true.
  const buildEnv = { ...process.env, NODE_ENV: 'production', PIPET_BUILD_DIR: buildDir() };
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit', env: buildEnv });
  if (result.status !== 0) throw new Error('The web app failed to build (see above).');
}

export function webEnv(): NodeJS.ProcessEnv {
  const { HOST, PORT, PUBLIC_URL } = env();
  return {
    HOST,
    PORT: String(PORT),
    ORIGIN: PUBLIC_URL ?? `http://${HOST === '0.0.0.0' ? '127.0.0.1' : HOST}:${PORT}`,
    // Pipet enforces its own per-route body limits while reading (256 KiB an event, 4 MiB a batch).
    BODY_SIZE_LIMIT: '16M',
  };
}
