// Shard queues (queue/shards.ts) and the settings that choose them (REDIS_URL, REDIS_CLUSTER,
// QUEUE_SHARDS, WORKER_QUEUE_SHARDS in env.ts).
import { afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { CLUSTER_SLOTS, concurrencyPerShard, shardOf, shardTags } from '../../src/lib/server/queue/shards.ts';
import { env, resetEnv } from '../../src/lib/server/env.ts';

describe('shardOf', () => {
  it('puts a key on one shard, always the same, and spreads keys evenly', () => {
    const counts = [0, 0, 0, 0, 0, 0];
    for (let i = 0; i < 6_000; i++) {
      const id = randomUUID();
      const shard = shardOf(id, 6);
      expect(shardOf(id, 6)).toBe(shard);
      counts[shard]++;
    }
    for (const n of counts) expect(n).toBeGreaterThan(800);
    expect(shardOf(randomUUID(), 1)).toBe(0);
  });
});

describe('shardTags', () => {
  it('keeps the plain prefix for one shard (the keys of a single-queue setup stay put)', () => {
    expect(shardTags('pipet', 1)).toEqual(['pipet']);
  });

  it.each([2, 3, 4, 6, 12, 64])('gives each of %i shards a tag in the middle of its own share of the slots', (n) => {
    const tags = shardTags('pipet', n);
    expect(new Set(tags).size).toBe(n);
    tags.forEach((tag, i) => {
      expect(tag).toMatch(new RegExp(`^pipet/${i}\\.\\d+$`));
      const slot = calculateSlot(tag);
      expect(slot).toBeGreaterThanOrEqual(((i + 0.25) * CLUSTER_SLOTS) / n);
      expect(slot).toBeLessThan(((i + 0.75) * CLUSTER_SLOTS) / n);
    });
  });

  it('so that 6 shards sit two by two on 3 masters holding equal slot ranges', () => {
    const masterOf = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2); // redis-cli --cluster create
    expect(shardTags('pipet', 6).map((t) => masterOf(calculateSlot(t)))).toEqual([0, 0, 1, 1, 2, 2]);
  });
});

it('shares a process slots out over its shards', () => {
  expect(concurrencyPerShard(8, 1)).toBe(8);
  expect(concurrencyPerShard(8, 6)).toBe(2);
  expect(concurrencyPerShard(32, 6)).toBe(6);
  expect(concurrencyPerShard(4, 6)).toBe(1);
});

describe('settings', () => {
  const keys = ['REDIS_URL', 'REDIS_CLUSTER', 'QUEUE_SHARDS', 'WORKER_QUEUE_SHARDS'] as const;
  const saved = Object.fromEntries(keys.map((k) => [k, process.env[k]]));
  function configure(vars: Partial<Record<(typeof keys)[number], string>>) {
    for (const k of keys) {
      if (vars[k] === undefined) delete process.env[k];
      else process.env[k] = vars[k];
    }
    resetEnv();
  }
  afterEach(() => {
    for (const k of keys) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    resetEnv();
  });

  it('default to one shard on one server and six on a cluster, every shard consumed', () => {
    configure({ REDIS_URL: 'redis://127.0.0.1:6379' });
    expect(env()).toMatchObject({ QUEUE_SHARDS: 1, WORKER_QUEUE_SHARDS: [0] });
    configure({ REDIS_URL: 'redis+cluster://10.0.0.1:7000,10.0.0.2:7000' });
    expect(env()).toMatchObject({ QUEUE_SHARDS: 6, WORKER_QUEUE_SHARDS: [0, 1, 2, 3, 4, 5] });
    configure({ REDIS_URL: 'redis://10.0.0.1:7000,10.0.0.2:7000', REDIS_CLUSTER: '1' });
    expect(env()).toMatchObject({ REDIS_CLUSTER: true, QUEUE_SHARDS: 6 });
    configure({});
    expect(env()).toMatchObject({ QUEUE_SHARDS: 1 });
  });

  it('take a shard count and a subset for a worker', () => {
    configure({ REDIS_URL: 'redis+cluster://10.0.0.1:7000', QUEUE_SHARDS: '4', WORKER_QUEUE_SHARDS: ' 0, 2' });
    expect(env()).toMatchObject({ QUEUE_SHARDS: 4, WORKER_QUEUE_SHARDS: [0, 2] });
  });

  it.each([
    [{ REDIS_URL: 'redis://a:1,b:2' }, /REDIS_URL: .*redis\+cluster:\/\/ or REDIS_CLUSTER=1/],
    [{ REDIS_URL: 'http://127.0.0.1:6379' }, /REDIS_URL: expected redis:\/\//],
    [{ REDIS_URL: 'redis+cluster://a:7000/3' }, /REDIS_URL: a Redis Cluster has only database 0/],
    [{ REDIS_CLUSTER: '1' }, /REDIS_CLUSTER: needs REDIS_URL/],
    [{ REDIS_URL: 'redis://127.0.0.1:6379', QUEUE_SHARDS: '0' }, /QUEUE_SHARDS/],
    [{ REDIS_URL: 'redis+cluster://a:7000', WORKER_QUEUE_SHARDS: '0,6' }, /WORKER_QUEUE_SHARDS: distinct shard numbers from 0 to 5/],
    [{ REDIS_URL: 'redis+cluster://a:7000', WORKER_QUEUE_SHARDS: '1,1' }, /WORKER_QUEUE_SHARDS: distinct/],
    [{ REDIS_URL: 'redis+cluster://a:7000', WORKER_QUEUE_SHARDS: 'one' }, /WORKER_QUEUE_SHARDS: shard numbers separated by commas/],
  ])('refuse %o', (vars, message) => {
    configure(vars);
    expect(() => env()).toThrow(message);
  });
});
