// PostgreSQL: one node-postgres pool per process, shared by the Prisma client (everything) and
// `sql()` (the few hot statements — append, authorization reads, the fold — where Prisma's own
// query pipeline costs more CPU than the database does).
import { createHash } from 'node:crypto';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.ts';
import { requireEnv } from '../env.ts';

export type Db = PrismaClient;
/** A client or an interactive transaction: IO functions take either, so they run inside $transaction too. */
export type DbTx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

let pool: pg.Pool | undefined;
let client: PrismaClient | undefined;

export function createPool(connectionString: string, max = 10): pg.Pool {
  const p = new pg.Pool({ connectionString, max, connectionTimeoutMillis: 5_000 });
  // A dropped idle connection is replaced on next use; the error must not crash the process.
  p.on('error', () => {});
  return p;
}

export function createDb(connectionString: string, max = 10): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg(createPool(connectionString, max), { disposeExternalPool: true }) });
}

function sharedPool(): pg.Pool {
  pool ??= createPool(requireEnv('DATABASE_URL'));
  return pool;
}

export function db(): PrismaClient {
  client ??= new PrismaClient({ adapter: new PrismaPg(sharedPool()) });
  return client;
}

const statementNames = new Map<string, string>();

/**
 * A hot statement straight on the pool: one round trip, rows as node-postgres parses them. Each
 * text is a named prepared statement (node-postgres prepares it once per connection), so
 * PostgreSQL parses and plans it once per connection, not on every call.
 */
export async function sql<T extends object>(text: string, values: unknown[] = []): Promise<T[]> {
  let name = statementNames.get(text);
  if (!name) {
    name = `pipet_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`;
    statementNames.set(text, name);
  }
  return (await sharedPool().query<T & pg.QueryResultRow>({ name, text, values })).rows;
}

export async function closeDb(): Promise<void> {
  const c = client;
  const p = pool;
  client = undefined;
  pool = undefined;
  await c?.$disconnect();
  await p?.end().catch(() => {});
}
