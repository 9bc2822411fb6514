// A throwaway Redis Cluster for tests: 3 masters and 3 replicas from the machine's `redis-server`,
// on free loopback ports, each node in its own folder under one temp dir. Nothing outlives the
// test: stop() kills every node and removes the folder, an exit hook does the same if a test
// forgets, every node dies with the process that started it (setpriv --pdeathsig), and folders
// left by a run that was SIGKILLed are removed by the next start.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createServer, type Server } from 'node:net';

const HOST = '127.0.0.1';
const DIR_PREFIX = 'pipet-rcluster-';
const SLOTS = 16384;

export type ClusterNode = { host: string; port: number; pid: number; dir: string };
export type SlotOwners = { slot: number; master: ClusterNode; replicas: ClusterNode[] };

export type RedisClusterOptions = {
  masters?: number;
  replicasPerMaster?: number;
  /** Milliseconds before an unreachable node is failed over; small so tests stay quick. */
  nodeTimeoutMs?: number;
};

export type RedisCluster = {
  /** Every node started (killed ones included), in start order. */
  nodes: ClusterNode[];
  /** Seed addresses for `new Cluster(seeds)`: every node that is alive. */
  seeds(): { host: string; port: number }[];
  /** `redis://host:port` of each live node. */
  seedUrls(): string[];
  /** `redis+cluster://host:port,host:port,…` over the live nodes (the form REDIS_URL accepts). */
  url(): string;
  /** The slot of a key (its hash tag if it has one), asked of Redis itself. */
  slotOf(key: string): Promise<number>;
  /** Who serves a slot (or a key's slot) right now. */
  owners(slotOrKey: number | string): Promise<SlotOwners>;
  /**
   * SIGKILLs the master serving the slot (or key), then waits until one of its replicas has been
   * promoted and every live node reports `cluster_state:ok` with all slots covered.
   */
  killMaster(slotOrKey: number | string, timeoutMs?: number): Promise<{ killed: ClusterNode; promoted: ClusterNode; failoverMs: number }>;
  /** Until every replica's link to its master is up and its offset has caught up. */
  waitForReplication(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

const live = new Set<{ children: ChildProcess[]; root: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous on purpose: 'exit' handlers cannot wait.
  process.once('exit', () => {
    for (const run of live) {
      for (const child of run.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(run.root, { recursive: true, force: true });
    }
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes folders of earlier runs whose process is gone (a SIGKILLed test run). */
function sweepStaleRoots(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const root = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(root, 'owner.pid'), 'utf8'));
    } catch {
      // No pid file yet: a run that is starting right now, or one that died before writing it.
    }
    if (Number.isInteger(owner) && !pidAlive(owner)) rmSync(root, { recursive: true, force: true });
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One short-lived connection to one node; never retries, so a dead node answers with an error. */
async function ask<T>(port: number, run: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({ host: HOST, port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1_000, commandTimeout: 2_000 });
  r.on('error', () => {});
  try {
    await r.connect();
    return await run(r);
  } finally {
    r.disconnect();
  }
}

function info(text: string): Record<string, string> {
  return Object.fromEntries(text.split(/\r?\n/).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]));
}

type NodeLine = { id: string; port: number; master: boolean; failed: boolean; masterId: string | null; slots: [number, number][] };

/** The lines of CLUSTER NODES: `<id> <ip:port@bus> <flags> <master> <ping> <pong> <epoch> <link> <slot>…`. */
function parseNodes(text: string): NodeLine[] {
  return text.trim().split('\n').map((line) => {
    const [id, addr, flags, masterId, , , , , ...slots] = line.trim().split(' ');
    const f = flags.split(',');
    return {
      id,
      port: Number(addr.split('@')[0].split(':').at(-1)),
      master: f.includes('master'),
      failed: f.includes('fail') || f.includes('fail?') || f.includes('noaddr'),
      masterId: masterId === '-' ? null : masterId,
      // Importing/migrating markers (`[slot->-id]`) are not ownership.
      slots: slots.filter((s) => !s.startsWith('[')).map((s) => { const [a, b = a] = s.split('-').map(Number); return [a, b] as [number, number]; }),
    };
  });
}

/**
 * `count` distinct free loopback ports: all held open at once so none is handed out twice, then
 * released together for the nodes to bind (another process can still take one meanwhile: the
 * caller retries a node that fails to start).
 */
async function reservePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, HOST, () => resolve());
      });
      servers.push(server);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      if ((error as { fatal?: boolean }).fatal) throw error;
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Redis Cluster: timed out waiting until ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(100);
  }
}

export async function startRedisCluster({ masters = 3, replicasPerMaster = 1, nodeTimeoutMs = 1_000 }: RedisClusterOptions = {}): Promise<RedisCluster> {
  if (spawnSync('redis-server', ['--version']).error) throw new Error('The cluster tests need redis-server (apt-get install redis-server).');
  installExitHook();
  sweepStaleRoots();
  const root = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(root, 'owner.pid'), String(process.pid));
  const run = { children: [] as ChildProcess[], root };
  live.add(run);
  const nodes: ClusterNode[] = [];
  const byPort = new Map<number, { node: ClusterNode; child: ChildProcess }>();
  const logs = new Map<number, () => string>();

  const stop = async () => {
    for (const child of run.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await Promise.all(run.children.map(exited));
    rmSync(root, { recursive: true, force: true });
    live.delete(run);
  };

  const startNode = async (port: number, busPort: number): Promise<void> => {
    const dir = join(root, String(port));
    mkdirSync(dir, { recursive: true });
    const args = [
      '--port', String(port), '--bind', HOST, '--cluster-port', String(busPort), '--dir', dir,
      '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(nodeTimeoutMs),
      // A replica always stands for election however long its link was down (tests freeze them).
      '--cluster-replica-validity-factor', '0',
      // Failover promotes the replica's in-memory copy; nothing is restarted from disk, so no
      // RDB or AOF. Full syncs go over the socket rather than through a file.
      '--save', '', '--appendonly', 'no', '--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0',
      '--maxmemory-policy', 'noeviction', '--daemonize', 'no', '--logfile', '',
    ];
    // The node dies with the process that started it, even if that process is SIGKILLed.
    const child = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'redis-server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const keep = (d: Buffer) => (log = (log + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    logs.set(port, () => log);
    run.children.push(child);
    try {
      await until(`redis-server on ${port} answers`, 10_000, async () => {
        if (child.exitCode !== null || child.signalCode !== null) throw Object.assign(new Error(`redis-server on ${port} exited:\n${log.slice(-1_000)}`), { fatal: true });
        await ask(port, (r) => r.ping());
        return true;
      });
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
    const node = { host: HOST, port, pid: child.pid!, dir };
    nodes.push(node);
    byPort.set(port, { node, child });
  };

  try {
    const count = masters * (1 + replicasPerMaster);
    for (let attempt = 0; nodes.length < count; attempt++) {
      // Both ports chosen explicitly: the default bus port (port + 10000) may be taken or > 65535.
      const ports = await reservePorts(2 * (count - nodes.length));
      const results = await Promise.allSettled(Array.from({ length: count - nodes.length }, (_, i) => startNode(ports[2 * i], ports[2 * i + 1])));
      const failed = results.filter((r) => r.status === 'rejected');
      // A port taken between reservation and bind: try again with fresh ports, a few times.
      if (failed.length && attempt >= 3) throw (failed[0] as PromiseRejectedResult).reason;
    }
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}\n${created.stderr}`);
  } catch (error) {
    await stop();
    throw error;
  }

  const alive = () => nodes.filter((n) => { const c = byPort.get(n.port)!.child; return c.exitCode === null && c.signalCode === null; });

  /** Every live node says ok, sees all slots served, and agrees on the master of every slot. */
  const healthy = async (): Promise<boolean> => {
    const views: string[] = [];
    for (const n of alive()) {
      const i = info(await ask(n.port, (r) => r.cluster('INFO') as Promise<string>));
      if (i.cluster_state !== 'ok' || Number(i.cluster_slots_ok) !== SLOTS || Number(i.cluster_slots_pfail) || Number(i.cluster_slots_fail)) return false;
      views.push(JSON.stringify(await slotMasters(n.port)));
    }
    return views.every((v) => v === views[0]);
  };

  /** [start, end, masterPort] per slot range, from one node's point of view. */
  const slotMasters = async (port: number): Promise<[number, number, number][]> => {
    const slots = await ask(port, (r) => r.cluster('SLOTS'));
    return slots.map(([start, end, master]) => [start, end, master[1]] as [number, number, number]).sort((a, b) => a[0] - b[0]);
  };

  const cluster: RedisCluster = {
    nodes,
    seeds: () => alive().map(({ host, port }) => ({ host, port })),
    seedUrls: () => alive().map((n) => `redis://${n.host}:${n.port}`),
    url: () => `redis+cluster://${alive().map((n) => `${n.host}:${n.port}`).join(',')}`,

    async slotOf(key) {
      return ask(alive()[0].port, (r) => r.cluster('KEYSLOT', key) as Promise<number>);
    },

    async owners(slotOrKey) {
      const slot = typeof slotOrKey === 'number' ? slotOrKey : await cluster.slotOf(slotOrKey);
      // CLUSTER NODES rather than SLOTS: SLOTS leaves out replicas whose offset is still 0.
      const table = parseNodes(await ask(alive()[0].port, (r) => r.cluster('NODES') as Promise<string>));
      const master = table.find((n) => n.master && !n.failed && n.slots.some(([a, b]) => slot >= a && slot <= b));
      if (!master) throw new Error(`No node serves slot ${slot}.`);
      const find = (port: number) => byPort.get(port)?.node ?? { host: HOST, port, pid: NaN, dir: '' };
      return { slot, master: find(master.port), replicas: table.filter((n) => n.masterId === master.id && !n.failed).map((n) => find(n.port)) };
    },

    async killMaster(slotOrKey, timeoutMs = 30_000) {
      const { slot, master } = await cluster.owners(slotOrKey);
      const entry = byPort.get(master.port)!;
      const started = Date.now();
      entry.child.kill('SIGKILL');
      await exited(entry.child);
      let promoted: ClusterNode | undefined;
      await until(`a replica takes over slot ${slot} from ${master.port}`, timeoutMs, async () => {
        const now = await cluster.owners(slot);
        if (now.master.port === master.port) return false;
        promoted = now.master;
        return healthy();
      });
      return { killed: master, promoted: promoted!, failoverMs: Date.now() - started };
    },

    async waitForReplication(timeoutMs = 10_000) {
      await until('every replica has caught up with its master', timeoutMs, async () => {
        for (const n of alive()) {
          const i = info(await ask(n.port, (r) => r.info('replication')));
          if (i.role !== 'slave') continue;
          if (i.master_link_status !== 'up') return false;
          const m = info(await ask(Number(i.master_port), (r) => r.info('replication')));
          if (m.master_repl_offset !== i.slave_repl_offset) return false;
        }
        return true;
      });
    },

    stop,
  };

  try {
    await until('the cluster is ok on every node with all slots covered', 30_000, healthy);
    await until('every node knows every other', 10_000, async () => {
      for (const n of nodes) if (Number(info(await ask(n.port, (r) => r.cluster('INFO') as Promise<string>)).cluster_known_nodes) !== nodes.length) return false;
      return true;
    });
    await cluster.waitForReplication(30_000);
  } catch (error) {
    const tails = nodes.map((n) => `--- ${n.port}\n${logs.get(n.port)!().slice(-2_000)}`).join('\n');
    await stop();
    throw new Error(`${(error as Error).message}\n${tails}`);
  }
  return cluster;
}
