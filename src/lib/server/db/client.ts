// The Prisma client over node-postgres. One per process, created on first use.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from './generated/client.ts';
import { requireEnv } from '../env.ts';

export type Db = PrismaClient;
/** A client or an interactive transaction: IO functions take either, so they run inside $transaction too. */
export type DbTx = Omit<PrismaClient, '$connect' | '$disconnect' | '$on' | '$transaction' | '$extends'>;

let client: PrismaClient | undefined;

export function createDb(connectionString: string, max = 10): PrismaClient {
  return new PrismaClient({ adapter: new PrismaPg({ connectionString, max, connectionTimeoutMillis: 5_000 }) });
}

export function db(): PrismaClient {
  client ??= createDb(requireEnv('DATABASE_URL'));
  return client;
}

export async function closeDb(): Promise<void> {
  await client?.$disconnect();
  client = undefined;
}
