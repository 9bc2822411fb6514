// The bare floor: what this machine's Node + PostgreSQL do for one append with nothing else —
// `node:http` and `pg`, no framework, no authorization, no queue, the same one-statement append
// Pipet makes (bump the stream's length under its row lock and insert, in one CTE). Pipet's figures
// are set beside this one, measured in the same run. `GET /key?stream=&reducer=&lineage=&key=` is
// the floor for reading one key of a keyed reducer: the same primary-key lookup into "KeyedState"
// Pipet's readKey makes (a named prepared statement, as Pipet's), and nothing else.
// Run: FLOOR_DATABASE_URL=… FLOOR_STREAM_ID=… PORT=… node tests/bench/floor-server.ts
import http from 'node:http';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.FLOOR_DATABASE_URL, max: 10 });
const streamId = process.env.FLOOR_STREAM_ID!;
const APPEND = `
  WITH bumped AS (
    UPDATE "Stream" SET length = length + 1, "lastEventAt" = now() WHERE id = $1::uuid RETURNING length, "lastEventAt" AS at
  ), inserted AS (
    INSERT INTO "Event" ("streamId", "index", body, "receivedAt") SELECT $1::uuid, b.length - 1, $2::jsonb, b.at FROM bumped b RETURNING 1
  )
  SELECT length FROM bumped`;

const READ_KEY = `SELECT state::text AS state, "index" FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3 AND key = $4`;

async function readKey(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  try {
    const q = new URL(req.url!, 'http://floor').searchParams;
    const { rows } = await pool.query<{ state: string | null; index: number }>({ name: 'read_key', text: READ_KEY, values: [q.get('stream'), q.get('reducer'), Number(q.get('lineage')), q.get('key')] });
    if (rows.length === 0) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json', 'pipet-index': String(rows[0].index) }).end(rows[0].state ?? 'null');
  } catch (error) {
    res.writeHead(500).end(String(error));
  }
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url?.startsWith('/key?')) return void readKey(req, res);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      // Parsed and re-serialized, as Pipet does to validate and size the body.
      const body = JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      const { rows } = await pool.query<{ length: number }>(APPEND, [streamId, body]);
      const length = rows[0].length;
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ index: length - 1, length }));
    } catch (error) {
      res.writeHead(500).end(String(error));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as { port: number }).port}`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void pool.end().then(() => process.exit(0));
});
