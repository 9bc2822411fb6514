// The streaming-replica helper works on this machine: writes on the primary show up on the replica,
// the replica refuses writes, and replicaLag() measures what the replica has not replayed yet —
// the ground for serving GETs from DATABASE_READ_URL (issue 13, read scaling).
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { startPgReplica, type PgReplicaPair } from '../helpers/pg-replica.ts';

let pair: PgReplicaPair;
const clients: pg.Client[] = [];

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  clients.push(client);
  return client;
}

beforeAll(async () => {
  pair = await startPgReplica();
});

afterAll(async () => {
  try {
    await Promise.all(clients.map((c) => c.end().catch(() => {})));
  } finally {
    await pair?.stop();
  }
});

it('replicates writes on the primary to a read-only replica', async () => {
  const primary = await connect(pair.primaryUrl);
  await primary.query('CREATE DATABASE app');
  const urls = pair.urls('app');
  const app = await connect(urls.primary);
  await app.query('CREATE TABLE "Event" ("streamId" uuid, "index" int, body jsonb, PRIMARY KEY ("streamId", "index"))');
  await app.query(`INSERT INTO "Event" SELECT '00000000-0000-0000-0000-000000000001', i, jsonb_build_object('n', i) FROM generate_series(0, 99) i`);
  await pair.waitForReplay();

  const replica = await connect(urls.replica);
  const { rows } = await replica.query(`SELECT count(*)::int AS n, max(body->>'n') AS last FROM "Event"`);
  expect(rows[0]).toEqual({ n: 100, last: '99' });
  expect((await replica.query('SELECT pg_is_in_recovery() AS r')).rows[0].r).toBe(true);
  await expect(replica.query(`INSERT INTO "Event" VALUES ('00000000-0000-0000-0000-000000000001', 100, '{}')`)).rejects.toMatchObject({ code: '25006' });
  expect((await pair.replicaLag()).bytes).toBe(0);
});

it('reports lag while the replica is behind, and catches up', async () => {
  const urls = pair.urls('app');
  const app = await connect(urls.primary);
  const replica = await connect(urls.replica);
  // Hold replay so the replica is behind for certain, as it would be under load.
  await replica.query('SELECT pg_wal_replay_pause()');
  try {
    await app.query(`INSERT INTO "Event" SELECT '00000000-0000-0000-0000-000000000002', i, '{}' FROM generate_series(0, 9) i`);
    const lag = await pair.replicaLag();
    expect(lag.bytes).toBeGreaterThan(0);
    // What a read of index 9 would see on the replica: not there yet, so it must go to the primary.
    const stale = await replica.query(`SELECT count(*)::int AS n FROM "Event" WHERE "streamId" = '00000000-0000-0000-0000-000000000002'`);
    expect(stale.rows[0].n).toBe(0);
  } finally {
    await replica.query('SELECT pg_wal_replay_resume()');
  }
  await pair.waitForReplay();
  const fresh = await replica.query(`SELECT count(*)::int AS n FROM "Event" WHERE "streamId" = '00000000-0000-0000-0000-000000000002'`);
  expect(fresh.rows[0].n).toBe(10);
  expect((await pair.replicaLag()).bytes).toBe(0);
});
