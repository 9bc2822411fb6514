// A throwaway PostgreSQL primary with one streaming replica, for read-scaling tests: initdb with
// wal_level=replica, a replica made by `pg_basebackup -R`, both on free loopback ports with their
// data under one temp dir. PostgreSQL refuses to run as root, so when the tests run as root the
// servers run as the `postgres` OS user (setpriv, which also ties each server's life to this
// process with --pdeathsig). stop() shuts both down and removes the folder; an exit hook and the
// next start clean up after a run that could not.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import pg from 'pg';

const HOST = '127.0.0.1';
const DIR_PREFIX = 'pipet-pgreplica-';

export type ReplicaLag = {
  /** WAL the primary has written that the replica has not replayed yet. */
  bytes: number;
  primaryLsn: string;
  replayLsn: string;
  /** Seconds since the last transaction the replica replayed was committed (null before the first). */
  replaySeconds: number | null;
};

export type PgReplicaPair = {
  /** `postgresql://postgres@127.0.0.1:<port>/postgres` of each server. */
  primaryUrl: string;
  replicaUrl: string;
  /** The same URLs on another database (create it on the primary; it reaches the replica). */
  urls(database: string): { primary: string; replica: string };
  replicaLag(): Promise<ReplicaLag>;
  /** Until the replica has replayed everything the primary had written when this was called. */
  waitForReplay(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
};

/** Debian's versioned binaries (newest first), a PG_BIN_DIR override, or the PATH. */
function binDir(): string {
  if (process.env.PG_BIN_DIR) return process.env.PG_BIN_DIR;
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'pg_basebackup'))).sort((a, b) => Number(b) - Number(a)) : [];
  return versions.length ? join(root, versions[0], 'bin') : '';
}

/** The uid/gid to run servers as: ours, unless we are root (then the `postgres` user's). */
function serverUser(): { uid: number; gid: number; asRoot: boolean } {
  if (process.getuid?.() !== 0) return { uid: process.getuid!(), gid: process.getgid!(), asRoot: false };
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid === 0) throw new Error('Running as root needs a `postgres` OS user to run PostgreSQL as (apt-get install postgresql creates it).');
  return { uid, gid, asRoot: true };
}

/** argv that runs `bin` as the server user and dies with this process. */
function asServerUser(bin: string, args: string[], user: { asRoot: boolean }): [string, string[]] {
  const dropRoot = user.asRoot ? ['--reuid=postgres', '--regid=postgres', '--init-groups'] : [];
  // setpriv applies --pdeathsig after changing users, so the setting survives the switch.
  return ['setpriv', [...dropRoot, '--pdeathsig', 'SIGKILL', '--', bin, ...args]];
}

const live = new Set<{ children: ChildProcess[]; root: string }>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
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

function sweepStaleRoots(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue;
    const root = join(tmpdir(), name);
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(root, 'owner.pid'), 'utf8'));
    } catch {
      // Starting right now, or died before writing it: leave it.
    }
    if (Number.isInteger(owner) && !pidAlive(owner)) rmSync(root, { recursive: true, force: true });
  }
}

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end().catch(() => {});
  }
}

async function until(what: string, timeoutMs: number, check: () => Promise<boolean>, fatal: () => string | null = () => null): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const dead = fatal();
    if (dead) throw new Error(dead);
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`PostgreSQL replica: timed out waiting until ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await sleep(100);
  }
}

export async function startPgReplica(): Promise<PgReplicaPair> {
  const bin = binDir();
  const tool = (name: string) => (bin ? join(bin, name) : name);
  if (spawnSync(tool('pg_basebackup'), ['--version']).error) throw new Error('The replica tests need PostgreSQL server binaries (apt-get install postgresql), or PG_BIN_DIR.');
  const user = serverUser();
  installExitHook();
  sweepStaleRoots();
  const root = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  writeFileSync(join(root, 'owner.pid'), String(process.pid));
  const run = { children: [] as ChildProcess[], root };
  live.add(run);
  const logs = new Map<string, () => string>();

  const stop = async () => {
    // SIGINT is PostgreSQL's fast shutdown; SIGKILL if it takes too long.
    for (const child of run.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    const timer = setTimeout(() => run.children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')), 10_000);
    await Promise.all(run.children.map(exited));
    clearTimeout(timer);
    rmSync(root, { recursive: true, force: true });
    live.delete(run);
  };

  const sync = (name: string, args: string[]) => {
    const [cmd, argv] = asServerUser(tool(name), args, user);
    const result = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 120_000, cwd: root });
    if (result.status !== 0) throw new Error(`${name} failed (${result.status ?? result.signal}):\n${result.stdout}\n${result.stderr}`);
  };

  const server = (name: string, dataDir: string, port: number, settings: Record<string, string>): ChildProcess => {
    const args = ['-D', dataDir, '-p', String(port), '-k', join(root, 'sock'), '-c', `listen_addresses=${HOST}`];
    for (const [k, v] of Object.entries(settings)) args.push('-c', `${k}=${v}`);
    const [cmd, argv] = asServerUser(tool('postgres'), args, user);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
    let log = '';
    const keep = (d: Buffer) => (log = (log + d.toString()).slice(-20_000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    logs.set(name, () => log);
    run.children.push(child);
    return child;
  };
  const deadMessage = (name: string, child: ChildProcess) => () => (child.exitCode !== null || child.signalCode !== null ? `${name} exited:\n${logs.get(name)!().slice(-2_000)}` : null);

  // Small and quick: a test server, not a production one.
  const common = { shared_buffers: '16MB', max_connections: '30', fsync: 'off', full_page_writes: 'off', log_min_messages: 'warning' };
  try {
    mkdirSync(join(root, 'sock'));
    if (user.asRoot) {
      chownSync(root, user.uid, user.gid);
      chownSync(join(root, 'sock'), user.uid, user.gid);
    }
    const [primaryPort, replicaPort] = await reservePorts(2);
    const primaryDir = join(root, 'primary');
    const replicaDir = join(root, 'replica');
    sync('initdb', ['-D', primaryDir, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
    // initdb's pg_hba.conf already lets 127.0.0.1 connect for replication with the --auth method.
    const primary = server('primary', primaryDir, primaryPort, { ...common, wal_level: 'replica', max_wal_senders: '4', wal_keep_size: '64MB' });
    const primaryUrl = `postgresql://postgres@${HOST}:${primaryPort}/postgres`;
    await until('the primary accepts connections', 30_000, async () => (await query(primaryUrl, 'SELECT 1')).length === 1, deadMessage('primary', primary));
    // -R writes standby.signal and primary_conninfo; -X stream copies the WAL the backup needs.
    sync('pg_basebackup', ['-h', HOST, '-p', String(primaryPort), '-U', 'postgres', '-D', replicaDir, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']);
    const replica = server('replica', replicaDir, replicaPort, { ...common, hot_standby: 'on' });
    const replicaUrl = `postgresql://postgres@${HOST}:${replicaPort}/postgres`;
    await until(
      'the replica streams from the primary',
      30_000,
      async () => {
        const [r] = await query<{ recovering: boolean; status: string | null }>(replicaUrl, 'SELECT pg_is_in_recovery() AS recovering, (SELECT status FROM pg_stat_wal_receiver) AS status');
        const [p] = await query<{ state: string | null }>(primaryUrl, 'SELECT (SELECT state FROM pg_stat_replication LIMIT 1) AS state');
        return r.recovering && r.status === 'streaming' && p.state === 'streaming';
      },
      deadMessage('replica', replica),
    );

    const urls = (database: string) => {
      const at = (url: string) => Object.assign(new URL(url), { pathname: `/${database}` }).toString();
      return { primary: at(primaryUrl), replica: at(replicaUrl) };
    };

    const replicaLag = async (): Promise<ReplicaLag> => {
      const [{ lsn: primaryLsn }] = await query<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
      const [r] = await query<{ lsn: string; seconds: number | null }>(
        replicaUrl,
        'SELECT pg_last_wal_replay_lsn()::text AS lsn, extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS seconds',
      );
      const [{ bytes }] = await query<{ bytes: string }>(primaryUrl, 'SELECT greatest(pg_wal_lsn_diff($1::pg_lsn, $2::pg_lsn), 0)::text AS bytes', [primaryLsn, r.lsn]);
      return { bytes: Number(bytes), primaryLsn, replayLsn: r.lsn, replaySeconds: r.seconds };
    };

    const waitForReplay = async (timeoutMs = 10_000) => {
      const [{ lsn: target }] = await query<{ lsn: string }>(primaryUrl, 'SELECT pg_current_wal_lsn()::text AS lsn');
      await until(`the replica replays up to ${target}`, timeoutMs, async () => {
        const [{ caught }] = await query<{ caught: boolean }>(replicaUrl, 'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught', [target]);
        return caught;
      });
    };

    return { primaryUrl, replicaUrl, urls, replicaLag, waitForReplay, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
