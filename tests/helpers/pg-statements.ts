// A recording proxy on loopback between Pipet processes and PostgreSQL: every SQL statement they
// send (simple Query messages and extended-protocol Parse messages), whole, in order. Point a
// process's DATABASE_URL at `url`; nothing else changes. (tests/bench/wire-count.ts counts round
// trips; this keeps the text, for checks of what the statements say.)
import net from 'node:net';

export type StatementRecorder = {
  url: string;
  /** The statements seen since the last reset, whitespace collapsed, in the order they were sent. */
  statements(): string[];
  reset(): void;
  close(): Promise<void>;
};

export async function recordStatements(databaseUrl: string): Promise<StatementRecorder> {
  const target = new URL(databaseUrl);
  let seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    let buf = Buffer.alloc(0);
    let started = false;
    sockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          // StartupMessage / SSLRequest: a length, no type byte. An SSLRequest is answered 'N' and
          // followed by the StartupMessage; both are skipped the same way.
          if (buf.length < 8) break;
          const len = buf.readInt32BE(0);
          if (buf.length < len) break;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code !== 80877103) started = true;
          continue;
        }
        if (buf.length < 5) break;
        const type = String.fromCharCode(buf[0]);
        const len = buf.readInt32BE(1);
        if (buf.length < 1 + len) break;
        const body = buf.subarray(5, 1 + len);
        buf = buf.subarray(1 + len);
        if (type === 'Q') seen.push(clean(body.toString('utf8', 0, body.indexOf(0))));
        else if (type === 'P') {
          const nameEnd = body.indexOf(0);
          seen.push(clean(body.toString('utf8', nameEnd + 1, body.indexOf(0, nameEnd + 1))));
        }
      }
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as net.AddressInfo).port);
  return {
    url: url.toString(),
    statements: () => seen,
    reset: () => {
      seen = [];
    },
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const clean = (sql: string) => sql.replace(/\s+/g, ' ').trim();
