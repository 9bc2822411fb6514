// Spike for issue 13: what the installed ioredis, BullMQ and rate-limiter-flexible do against a
// real Redis Cluster (3 masters, 3 replicas on loopback), including when a master is SIGKILLed and
// a replica is promoted. Each block gets its own cluster; findings are in docs/scaling-redis-cluster.md.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import { Queue, Worker, type Job } from 'bullmq';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { startRedisCluster, type RedisCluster } from '../helpers/redis-cluster.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, timeoutMs: number, probe: () => Promise<T> | T, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}; last value: ${JSON.stringify(value)}`);
    await sleep(50);
  }
}

// The connection kinds recommended for redis.ts (see the notes): producers fail fast, workers and
// subscribers wait out a failover.
function producer(cluster: RedisCluster, extra: ClusterOptions = {}): Cluster {
  const c = new Cluster(cluster.seeds(), {
    enableOfflineQueue: false,
    ...extra,
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 2_000, ...extra.redisOptions },
  });
  c.on('error', () => {});
  return c;
}

function workerConnection(cluster: RedisCluster): Cluster {
  const c = new Cluster(cluster.seeds(), { retryDelayOnFailover: 200, retryDelayOnMoved: 100, maxRedirections: 64, redisOptions: { maxRetriesPerRequest: null } });
  c.on('error', () => {});
  return c;
}

async function ready(c: Cluster): Promise<void> {
  if (c.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    c.once('ready', resolve);
    c.once('end', () => reject(new Error('cluster connection ended')));
  });
}

/** A hash tag whose slot is served by a master that still has a replica (and is not `avoid`). */
async function tagOnHealthyShard(cluster: RedisCluster, base: string, avoidPorts: number[] = []): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const tag = `{${base}-${i}}`;
    const owners = await cluster.owners(tag);
    if (owners.replicas.length > 0 && !avoidPorts.includes(owners.master.port)) return tag;
  }
  throw new Error('no shard with a replica left');
}

describe('BullMQ over an ioredis Cluster connection', () => {
  let cluster: RedisCluster;
  const closers: (() => Promise<unknown> | void)[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    try {
      // Bounded: Worker.close() can wait forever for its blocking connection's 'end' right after
      // a failover (see the notes); the cluster's stop() ends those connections anyway.
      for (const close of closers.reverse()) await Promise.race([Promise.resolve(close()).catch(() => {}), sleep(3_000)]);
    } finally {
      await cluster?.stop();
    }
  });

  function track<T extends { close(): Promise<unknown> } | { disconnect(): void }>(thing: T): T {
    closers.push(() => ('close' in thing ? thing.close() : thing.disconnect()));
    return thing;
  }

  it('refuses a blocking Worker connection that has maxRetriesPerRequest set', () => {
    const c = track(new Cluster(cluster.seeds(), { lazyConnect: true, redisOptions: { maxRetriesPerRequest: 1 } }));
    expect(() => new Worker('q', async () => {}, { connection: c, prefix: '{x}' })).toThrow(/maxRetriesPerRequest must be null/);
  });

  it('keeps every key of a queue in the slot of its {hash-tag} prefix', async () => {
    const prefix = `{pipet-smoke-${randomBytes(3).toString('hex')}}`;
    const conn = track(producer(cluster));
    const queue = track(new Queue('fold', { connection: conn, prefix }));
    await queue.add('fold', { n: 1 }, { jobId: 'a' });
    await queue.add('fold', { n: 2 }, { delay: 60_000 });
    const slot = await cluster.slotOf(prefix);
    const { master } = await cluster.owners(slot);
    const node = new Redis({ host: master.host, port: master.port });
    const keys = await node.keys(`${prefix}*`).finally(() => node.disconnect());
    expect(keys.length).toBeGreaterThan(3);
    for (const key of keys) expect(await cluster.slotOf(key)).toBe(slot);
  });

  it('processes jobs, collapses deduplicated adds and runs delayed jobs when due', async () => {
    const prefix = `{pipet-smoke-${randomBytes(3).toString('hex')}}`;
    const queue = track(new Queue('fold', { connection: track(producer(cluster)), prefix }));
    // Pipet's wake-up: one waiting fold per stream, key released when the fold starts.
    const stream = randomUUID();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await queue.add('fold', { streamId: stream }, { deduplication: { id: `fold-${stream}` } })).id!);
    expect(ids.size).toBe(1);
    // Deterministic ids: the same effect enqueued twice is one job.
    await queue.add('deliver', { effectId: 'e1' }, { jobId: 'deliver-e1-0' });
    await queue.add('deliver', { effectId: 'e1' }, { jobId: 'deliver-e1-0' });
    const delayedAt = Date.now();
    await queue.add('timer', { effectId: 't1' }, { jobId: 'timer-t1-0', delay: 1_500 });
    expect(await queue.getJobCounts('wait', 'delayed')).toEqual({ wait: 2, delayed: 1 });

    const done = new Map<string, number>();
    const worker = track(
      new Worker(
        'fold',
        async (job: Job) => {
          if (job.name === 'fold') await job.removeDeduplicationKey();
          done.set(job.id!, Date.now());
        },
        { connection: track(workerConnection(cluster)), prefix, concurrency: 4 },
      ),
    );
    worker.on('error', () => {});
    await eventually('three jobs ran', 10_000, () => done.size, (n) => n === 3);
    expect(done.get('timer-t1-0')! - delayedAt).toBeGreaterThanOrEqual(1_400);
    // The key was released when the fold started: the next append enqueues a new fold.
    const next = await queue.add('fold', { streamId: stream }, { deduplication: { id: `fold-${stream}` } });
    expect(ids.has(next.id!)).toBe(false);
    await eventually('the new fold ran', 5_000, () => done.size, (n) => n === 4);
  });

  it('keeps processing when the master of the queue slot is SIGKILLed; replicated jobs survive', async () => {
    const prefix = await tagOnHealthyShard(cluster, 'pipet-failover');
    const queue = track(new Queue('fold', { connection: track(producer(cluster)), prefix }));
    const done = new Set<string>();
    const worker = track(new Worker('fold', async (job: Job) => void done.add(job.id!), { connection: track(workerConnection(cluster)), prefix, concurrency: 8 }));
    const workerErrors: string[] = [];
    worker.on('error', (e) => workerErrors.push(e.message));
    await worker.waitUntilReady();

    for (let i = 0; i < 50; i++) await queue.add('fold', { i }, { jobId: `before-${i}` });
    // Delayed jobs that come due after the failover, and a deduplicated one.
    for (let i = 0; i < 5; i++) await queue.add('timer', { i }, { jobId: `delayed-${i}`, delay: 3_000 + i * 100 });
    await queue.add('fold', {}, { deduplication: { id: 'dedup-before' } });
    // BullMQ does not WAIT for replicas; this test waits so that what it checks is what failover
    // keeps (the next test shows what it drops).
    await cluster.waitForReplication();

    const { killed, promoted, failoverMs } = await cluster.killMaster(prefix);
    expect(promoted.port).not.toBe(killed.port);
    expect(failoverMs).toBeLessThan(15_000);

    for (let i = 0; i < 50; i++) await queue.add('fold', { i }, { jobId: `after-${i}` });
    const expected = [...Array.from({ length: 50 }, (_, i) => [`before-${i}`, `after-${i}`]).flat(), ...Array.from({ length: 5 }, (_, i) => `delayed-${i}`)];
    await eventually('every job ran', 20_000, () => expected.filter((id) => !done.has(id)), (missing) => missing.length === 0);
    expect(done.size).toBe(expected.length + 1);
    // What the worker saw while its master was gone, for the notes.
    console.info(`[cluster smoke] failover of ${killed.port} → ${promoted.port} took ${failoverMs} ms; worker errors: ${JSON.stringify([...new Set(workerErrors)])}`);
  });

  it('loses jobs a master acknowledged but never replicated (asynchronous replication)', async () => {
    const prefix = await tagOnHealthyShard(cluster, 'pipet-lost');
    const queue = track(new Queue('fold', { connection: track(producer(cluster)), prefix }));
    await queue.add('fold', {}, { jobId: 'replicated' });
    await cluster.waitForReplication();
    const { master, replicas } = await cluster.owners(prefix);
    // A partition between master and replica: freeze the replica and cut its link, so what the
    // master acknowledges from now on never reaches it.
    process.kill(replicas[0].pid, 'SIGSTOP');
    try {
      const m = new Redis({ host: master.host, port: master.port });
      await m.call('CLIENT', 'KILL', 'TYPE', 'replica').finally(() => m.disconnect());
      for (let i = 0; i < 5; i++) await queue.add('fold', { i }, { jobId: `unreplicated-${i}` });
      expect(await queue.getJobCounts('wait')).toEqual({ wait: 6 });
      const failover = cluster.killMaster(prefix);
      await sleep(200);
      process.kill(replicas[0].pid, 'SIGCONT');
      await failover;
    } finally {
      process.kill(replicas[0].pid, 'SIGCONT');
    }
    const jobs = await queue.getJobs(['wait']);
    expect(jobs.map((j) => j.id)).toEqual(['replicated']);
  });
});

describe('sharded pub/sub (SPUBLISH / SSUBSCRIBE) through ioredis Cluster', () => {
  let cluster: RedisCluster;
  const clients: Cluster[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster();
  });
  afterAll(async () => {
    try {
      for (const c of clients) c.disconnect();
    } finally {
      await cluster?.stop();
    }
  });

  /** Channels named like Pipet's, one at least on every master. */
  async function channelsOnEveryShard(): Promise<string[]> {
    const byMaster = new Map<number, string>();
    for (let i = 0; byMaster.size < 3 && i < 100; i++) {
      const channel = `pipet:appended:${randomUUID()}`;
      const { master } = await cluster.owners(channel);
      if (!byMaster.has(master.port)) byMaster.set(master.port, channel);
    }
    return [...byMaster.values()];
  }

  it('needs shardedSubscribers: without it SSUBSCRIBE bounces between nodes until it gives up', async () => {
    const sub = new Cluster(cluster.seeds(), { redisOptions: { maxRetriesPerRequest: null } });
    clients.push(sub);
    sub.on('error', () => {});
    await ready(sub);
    const channels = await channelsOnEveryShard();
    const results = await Promise.allSettled(channels.map((c) => sub.ssubscribe(c)));
    // The lone subscriber connection sits on one node; channels of other shards get MOVED.
    expect(results.some((r) => r.status === 'rejected' && /MOVED|redirections/.test(String(r.reason)))).toBe(true);
  });

  it('delivers on every shard with shardedSubscribers, and resubscribes by itself after a failover', async () => {
    const pub = producer(cluster);
    const sub = new Cluster(cluster.seeds(), { shardedSubscribers: true, redisOptions: { maxRetriesPerRequest: null } });
    clients.push(pub, sub);
    const subErrors: string[] = [];
    sub.on('error', (e) => subErrors.push(e.message));
    const got: string[] = [];
    sub.on('smessage', (channel: string, message: string) => got.push(`${channel}=${message}`));
    await Promise.all([ready(pub), ready(sub)]);
    const channels = await channelsOnEveryShard();
    expect(channels).toHaveLength(3);
    for (const c of channels) await sub.ssubscribe(c);
    for (const c of channels) expect(await pub.spublish(c, 'before')).toBe(1);
    await eventually('every channel delivered', 5_000, () => got.length, (n) => n === channels.length);
    expect(got.sort()).toEqual(channels.map((c) => `${c}=before`).sort());

    const { failoverMs } = await cluster.killMaster(channels[0]);
    // No ssubscribe again: the subscriber group follows the new topology on its own. Messages
    // published while a shard has no master are gone (pub/sub is at most once): republish.
    const seen = await eventually(
      'every channel delivers again',
      15_000,
      async () => {
        got.length = 0;
        for (const c of channels) await pub.spublish(c, 'after').catch(() => 0);
        await sleep(150);
        return new Set(got);
      },
      (s) => channels.every((c) => s.has(`${c}=after`)),
    );
    expect(seen.size).toBe(channels.length);
    // Unsubscribing by channel still routes to the right shard afterwards.
    await sub.sunsubscribe(channels[1]);
    got.length = 0;
    expect(await pub.spublish(channels[1], 'gone')).toBe(0);
    console.info(`[cluster smoke] sharded subscriber back after a ${failoverMs} ms failover; it emitted ${subErrors.length} 'error' events meanwhile (${[...new Set(subErrors)].join('; ')})`);
  });
});

describe('rate-limiter-flexible RateLimiterRedis over an ioredis Cluster', () => {
  let cluster: RedisCluster;
  let client: Cluster;
  beforeAll(async () => {
    cluster = await startRedisCluster();
    client = producer(cluster);
    await ready(client);
  });
  afterAll(async () => {
    try {
      client?.disconnect();
    } finally {
      await cluster?.stop();
    }
  });

  const limiter = (prefix: string) =>
    new RateLimiterRedis({ storeClient: client, keyPrefix: prefix, points: 3, duration: 60, insuranceLimiter: new RateLimiterMemory({ points: 3, duration: 60 }) });

  it('counts per key with keys spread over the shards (one key per command, no hash tag needed)', async () => {
    const prefix = `pipet-${randomBytes(3).toString('hex')}:rl:public`;
    const rl = limiter(prefix);
    const masters = new Set<number>();
    for (let i = 0; i < 12; i++) {
      const address = `203.0.113.${i}`;
      for (let n = 0; n < 3; n++) await rl.consume(address);
      await expect(rl.consume(address)).rejects.toBeInstanceOf(RateLimiterRes);
      masters.add((await cluster.owners(`${prefix}:${address}`)).master.port);
    }
    expect(masters.size).toBeGreaterThan(1);
  });

  it('keeps a replicated count through a failover, and stays bounded while the shard has no master', async () => {
    const prefix = `pipet-${randomBytes(3).toString('hex')}:rl:public`;
    const rl = limiter(prefix);
    const key = '198.51.100.7';
    for (let n = 0; n < 3; n++) await rl.consume(key);
    await cluster.waitForReplication();
    const failover = cluster.killMaster(`${prefix}:${key}`);
    await sleep(300);
    // Mid-failover the Redis call fails fast and the insurance (in-memory) limiter answers.
    const started = Date.now();
    await rl.consume(key).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(3_000);
    await failover;
    const res = await rl.consume(key).catch((e) => e);
    expect(res).toBeInstanceOf(RateLimiterRes);
    expect((res as RateLimiterRes).remainingPoints).toBe(0);
    expect((res as RateLimiterRes).consumedPoints).toBeGreaterThanOrEqual(4);
  });
});
