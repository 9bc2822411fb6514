// Things to break on purpose: a private redis-server that can be killed and restarted on the same
// port (or frozen and thawed), and a TCP proxy in front of PostgreSQL that can be cut and restored.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Redis } from 'ioredis';

export type RedisProcess = {
  url: string;
  port: number;
  start(): Promise<void>;
  kill(): Promise<void>;
  /** SIGSTOP: connections stay open and commands go unanswered (slow, not down) until `thaw()`. */
  freeze(): void;
  /** SIGCONT: Redis answers everything sent while it was frozen. */
  thaw(): void;
};

/** A redis-server on `port`, not started yet. Killed for good at `kill()`; `start()` brings one back. */
export function redisOn(port: number): RedisProcess {
  let child: ChildProcess | undefined;
  const url = `redis://127.0.0.1:${port}`;
  return {
    url,
    port,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => {});
        try {
          await probe.connect();
          await probe.ping();
          probe.disconnect();
          return;
        } catch {
          probe.disconnect();
          if (Date.now() > deadline) throw new Error(`redis-server did not start on ${port}`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    },
    freeze() {
      if (!child?.kill('SIGSTOP')) throw new Error('redis-server is not running');
    },
    thaw() {
      if (!child?.kill('SIGCONT')) throw new Error('redis-server is not running');
    },
    async kill() {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.kill('SIGKILL');
      });
    },
  };
}

export type Proxy = { port: number; cut(): Promise<void>; restore(): Promise<void>; close(): Promise<void> };

/** A TCP proxy on loopback to `target`; `cut()` drops every connection and refuses new ones. */
export async function tcpProxy(target: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = connect(target.port, target.host);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => {
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream).pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as { port: number }).port;
        resolve();
      });
    });
  const cut = async () => {
    const s = server;
    server = undefined;
    for (const socket of sockets) socket.destroy();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };
  await listen();
  return { port, cut, restore: listen, close: cut };
}
