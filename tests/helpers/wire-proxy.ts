// Proxies on loopback that watch what a client sends to PostgreSQL or Redis, byte for byte, and pass
// everything through unchanged: point a process's DATABASE_URL / REDIS_URL at `url`. Used by the
// statement recorder (tests/helpers/pg-statements.ts) and the bench's wire counts
// (tests/bench/wire-count.ts).
import net from 'node:net';

export type WireProxy = { url: string; close(): Promise<void> };

/**
 * A TCP proxy to `target`'s host and port. `onConnection` is called once per client connection and
 * returns what sees that connection's bytes, in order. The URL is `target` with the proxy's port.
 */
export function wireProxy(target: URL, defaultPort: number, onConnection: () => (chunk: Buffer) => void): Promise<WireProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || defaultPort), target.hostname);
    const see = onConnection();
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      see(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const url = new URL(target);
      url.hostname = '127.0.0.1';
      url.port = String((server.address() as net.AddressInfo).port);
      resolve({
        url: url.toString(),
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/**
 * PostgreSQL's frontend messages on one connection: feed it the client's bytes, it calls `onMessage`
 * with each whole typed message (Query 'Q', Parse 'P', Bind 'B', Sync 'S', …). The untyped start-up
 * messages (an SSLRequest answered 'N', then the StartupMessage) are skipped.
 */
export function pgMessages(onMessage: (type: string, body: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  let started = false;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    for (;;) {
      if (!started) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code !== 80877103 /* SSLRequest */) started = true;
        continue;
      }
      if (buf.length < 5) return;
      const len = buf.readInt32BE(1);
      if (buf.length < 1 + len) return;
      const type = String.fromCharCode(buf[0]);
      const body = buf.subarray(5, 1 + len);
      buf = buf.subarray(1 + len);
      onMessage(type, body);
    }
  };
}

/** The statement text of a Query or Parse message, or null for any other message. */
export function statementOf(type: string, body: Buffer): { name: string; sql: string } | null {
  if (type === 'Q') return { name: '', sql: body.toString('utf8', 0, body.indexOf(0)) };
  if (type !== 'P') return null;
  const nameEnd = body.indexOf(0);
  return { name: body.toString('utf8', 0, nameEnd), sql: body.toString('utf8', nameEnd + 1, body.indexOf(0, nameEnd + 1)) };
}
