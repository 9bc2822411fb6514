// Redis connections, to one server or a Redis Cluster (REDIS_URL, REDIS_CLUSTER; redis-url.ts).
// Producers fail fast and never queue commands while disconnected (an append must not wait on
// Redis: PostgreSQL is the source of truth and the sweep repairs lost wake-ups); workers and
// subscribers wait out an outage or a failover, as BullMQ requires (`maxRetriesPerRequest: null`).
// Findings behind the cluster options: docs/scaling-redis-cluster.md.
// Slow is not down: a frozen Redis (stopped, swapping, a stuck failover) keeps its connections open,
// and a command waits out the 2 s command timeout. Request paths go through `fastPath`, which waits
// at most REDIS_FAST_PATH_MS and then marks Redis stalled until a probe answers again.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { env, requireEnv } from './env.ts';
import { parseRedisUrl, type RedisTarget } from './redis-url.ts';

export type RedisKind = 'producer' | 'worker' | 'subscriber';
export type RedisClient = Redis | Cluster;

const NODE_OPTIONS: Record<RedisKind, RedisOptions> = {
  producer: { maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 2_000, enableOfflineQueue: false },
  worker: { maxRetriesPerRequest: null },
  subscriber: { maxRetriesPerRequest: null },
};

// retryDelayOnFailover × maxRedirections must exceed cluster-node-timeout (plus the election) for a
// command to outlive a failover: 500 ms × 64 covers managed Redis' 15 s default. Producers give up
// after about a second instead; the sweep re-enqueues what they could not.
const OUTLIVE_FAILOVER: ClusterOptions = { retryDelayOnFailover: 500, retryDelayOnClusterDown: 500, retryDelayOnMoved: 100, maxRedirections: 64 };
const CLUSTER_OPTIONS: Record<RedisKind, ClusterOptions> = {
  // Cluster-level: commands are refused (not queued) while the cluster is not ready.
  producer: { enableOfflineQueue: false },
  worker: OUTLIVE_FAILOVER,
  // One subscriber connection per master, for SSUBSCRIBE (notify.ts).
  subscriber: { ...OUTLIVE_FAILOVER, shardedSubscribers: true },
};

let parsed: { url: string; cluster: boolean; target: RedisTarget } | undefined;

/** What REDIS_URL names (one server or a cluster's seeds), parsed once per value. */
export function redisTarget(): RedisTarget {
  const url = requireEnv('REDIS_URL');
  const cluster = env().REDIS_CLUSTER ?? false;
  if (parsed?.url !== url || parsed.cluster !== cluster) parsed = { url, cluster, target: parseRedisUrl(url, { cluster }) };
  return parsed.target;
}

export function isRedisCluster(): boolean {
  return redisTarget().mode === 'cluster';
}

export function createRedis(kind: RedisKind, overrides: RedisOptions = {}): RedisClient {
  const t = redisTarget();
  const client: RedisClient =
    t.mode === 'single'
      ? new Redis(t.url, { ...NODE_OPTIONS[kind], ...overrides })
      : new Cluster(t.nodes, {
          ...CLUSTER_OPTIONS[kind],
          // TLS to nodes announced by hostname (ElastiCache, MemoryDB): keep the name for the certificate.
          ...(t.options.tls ? { dnsLookup: (address: string, callback: (err: null, address: string) => void) => callback(null, address) } : {}),
          redisOptions: {
            ...NODE_OPTIONS[kind],
            ...(t.options.username ? { username: t.options.username } : {}),
            ...(t.options.password ? { password: t.options.password } : {}),
            ...(t.options.tls ? { tls: {} } : {}),
            ...overrides,
          },
        });
  // Errors surface on the commands that fail; an unhandled 'error' event would crash the process.
  client.on('error', () => {});
  return client;
}

let producer: RedisClient | undefined;

export function redis(): RedisClient {
  if (!producer) {
    const created = createRedis('producer');
    created.once('ready', () => connectedOnce.add(created));
    created.on('ready', answering);
    producer = created;
  }
  return producer;
}

/**
 * Whether the producer connection can take a command. While the process's first connection is
 * being made this waits for it (bounded by the connect timeout); later, a connection that is down
 * answers false at once and reconnects by itself. (A cluster stays ready while one shard fails
 * over: commands to that shard fail within about a second, and the sweep repairs what they missed.)
 */
export async function redisReady(): Promise<boolean> {
  const r = redis();
  if (r.status === 'ready') return true;
  if (!['wait', 'connecting', 'connect'].includes(r.status) || connectedOnce.has(r)) return false;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      r.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), 2_000);
    r.once('ready', onReady);
  });
}

const connectedOnce = new WeakSet<RedisClient>();

// ---- the fast path ----

export type FastAnswer<T> = { answered: true; value: T } | { answered: false };

let stalled = false;
let probing = false;
const answerWatchers = new Set<() => void>();

/** Whether the producer is connected and not stalled (no command lately went unanswered past the bound): signals may be sent now. */
export function redisAnswering(): boolean {
  return !stalled && redis().status === 'ready';
}

/** Calls `listener` whenever Redis answers again: after a stall, and on every (re)connection. */
export function onRedisAnswering(listener: () => void): () => void {
  answerWatchers.add(listener);
  return () => answerWatchers.delete(listener);
}

function answering(): void {
  stalled = false;
  for (const listener of answerWatchers) listener();
}

/**
 * Runs `command` (which talks to the producer connection) if Redis is connected, waiting for it at
 * most REDIS_FAST_PATH_MS. `{ answered: false }` at once when Redis is down (or still connecting)
 * or stalled, and after the bound when it is slower than that: the command itself goes on and its
 * late outcome is dropped. A rejection within the bound is the caller's (a rate limiter's refusal
 * is an answer).
 */
export async function fastPath<T>(command: () => Promise<T>): Promise<FastAnswer<T>> {
  if (stalled || redis().status !== 'ready') return { answered: false };
  let timer: NodeJS.Timeout | undefined;
  // The verdict waits for one more turn of the event loop: after a pause of the process itself (GC,
  // a busy CPU) the timer runs before the socket is read, and Redis' answer may already be there.
  const late = new Promise<FastAnswer<T>>((resolve) => (timer = setTimeout(() => setImmediate(resolve, { answered: false }), env().REDIS_FAST_PATH_MS)));
  const attempt = command().then((value): FastAnswer<T> => ({ answered: true, value }));
  try {
    const answer = await Promise.race([attempt, late]);
    // Still connected, yet no answer: frozen or overloaded, not down.
    if (!answer.answered && producer?.status === 'ready') stall();
    return answer;
  } finally {
    clearTimeout(timer);
    attempt.catch(() => {});
  }
}

/** Marks Redis stalled and pings it until it answers (a frozen server answers once it runs again). */
function stall(): void {
  stalled = true;
  if (probing) return;
  probing = true;
  const probe = () => {
    const r = producer;
    if (!r) return void (probing = false);
    r.ping().then(
      () => {
        probing = false;
        if (stalled) answering();
      },
      () => {
        if (producer !== r || !stalled) return void (probing = false);
        setTimeout(probe, PROBE_RETRY_MS).unref();
      },
    );
  };
  probe();
}

const PROBE_RETRY_MS = 250;

/** Key prefix for everything Pipet keeps in Redis besides queues (rate limits, pub/sub channels). */
export function redisKey(...parts: string[]): string {
  return [env().QUEUE_PREFIX, ...parts].join(':');
}

export async function closeRedis(): Promise<void> {
  const r = producer;
  producer = undefined;
  stalled = false;
  await r?.quit().catch(() => r.disconnect());
}
