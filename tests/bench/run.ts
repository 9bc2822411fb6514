// `npm run bench`: figures, never assertions. Uses the machine's PostgreSQL and Redis (or
// DATABASE_URL / REDIS_URL), in a database and key prefix of its own, removed afterwards.
import { spawnSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { applyMigrations } from '../../src/lib/server/db/migrate.ts';
import { createDatabase, deleteRedisPrefix, dropDatabase, testServices } from '../helpers/services.ts';
import { ROOT } from '../helpers/server.ts';
import { benchSandbox } from './sandbox.ts';
import { benchLatency } from './latency.ts';
import { benchFoldVsScan } from './fold-vs-scan.ts';

const line = (label: string, value: string) => console.log(`  ${label.padEnd(58)} ${value}`);
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits });

console.log(`Pipet benchmark — ${new Date().toISOString()}`);
console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 1)} GiB, Node ${process.version}\n`);

console.log('Sandbox fold throughput (counter reducer, QuickJS/WebAssembly in a worker thread)');
// BENCH_ONLY=sandbox|latency|scan runs one part.
const only = process.env.BENCH_ONLY;
const runs = (part: string) => !only || only === part;
if (runs('sandbox')) for (const [k, v] of Object.entries(await benchSandbox())) line(k, fmt(v));

const services = await testServices();
const id = `bench${Date.now().toString(36)}`;
const dbName = `pipet_${id}`;
const prefix = `pipet-${id}`;
const databaseUrl = await createDatabase(services.adminUrl, dbName);
const buildRoot = join(ROOT, '.test-builds', id);
try {
  await applyMigrations(databaseUrl);
  Object.assign(process.env, { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: prefix, NODE_ENV: 'test' });
  const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], {
    cwd: ROOT,
    env: { ...process.env, PIPET_BUILD_DIR: join(buildRoot, 'build'), PIPET_KIT_DIR: join(buildRoot, 'kit') },
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`build failed:\n${built.stdout}\n${built.stderr}`);
  process.env.PIPET_TEST_BUILD_DIR = join(buildRoot, 'build');

  if (runs('latency')) {
    for (const [rate, seconds] of [[200, 5], [1000, 10]]) {
      console.log(`\nPOST → state visible (one web, one worker, steady ${fmt(rate)} events/s for ${seconds} s)`);
      const latency = await benchLatency({ rate, seconds, env: { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: `${prefix}-${rate}` } });
      line('events sent / acknowledged', `${fmt(latency.sent)} / ${fmt(latency.acked)}`);
      line('POST acknowledged p50 / p99 (ms)', `${fmt(latency.ackP50, 1)} / ${fmt(latency.ackP99, 1)}`);
      line('state visible p50 / p99 / max (ms)', `${fmt(latency.p50, 1)} / ${fmt(latency.p99, 1)} / ${fmt(latency.max, 1)}`);
    }
  }

  console.log('\nOne more event: incremental fold vs. re-scanning the log');
  for (const size of runs('scan') ? [1_000, 1_000_000] : []) {
    const r = await benchFoldVsScan(size);
    line(`${fmt(size)} events: fold one more event (ms)`, fmt(r.foldMs, 2));
    line(`${fmt(size)} events: SELECT count(*) … WHERE body->>'type' = 'foo' (ms)`, fmt(r.scanMs, 2));
    line(`${fmt(size)} events: scan / fold`, `${fmt(r.scanMs / r.foldMs, 1)}×`);
  }
} finally {
  const { closeDb } = await import('../../src/lib/server/db/client.ts');
  const { closeQueues } = await import('../../src/lib/server/queue/enqueue.ts');
  const { closeRedis } = await import('../../src/lib/server/redis.ts');
  const { closeNotify } = await import('../../src/lib/server/notify.ts');
  const { closeSandbox } = await import('../../src/lib/server/reducers/sandbox/index.ts');
  await Promise.allSettled([closeQueues(), closeNotify(), closeSandbox()]);
  await Promise.allSettled([closeRedis(), closeDb()]);
  await dropDatabase(services.adminUrl, dbName);
  for (const p of [prefix, `${prefix}-200`, `${prefix}-1000`]) await deleteRedisPrefix(services.redisUrl, p);
  await services.stop();
  rmSync(buildRoot, { recursive: true, force: true });
}
process.exit(0);
