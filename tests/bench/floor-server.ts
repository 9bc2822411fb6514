// The bare floor: what this machine's Node + PostgreSQL do for one append with nothing else —
// `node:http` and `pg`, no framework, no authorization, no queue, the same one-statement append
// Pipet makes (bump the stream's length under its row lock and insert, in one CTE). Pipet's figures
// are set beside this one, measured in the same run.
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

const server = http.createServer((req, res) => {
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
