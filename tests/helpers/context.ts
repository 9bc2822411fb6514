// Per-file test context: the shared web server, or a database and queue prefix of the file's own.
import { afterAll, inject } from 'vitest';
import { randomBytes } from 'node:crypto';
import { createDb, type Db } from '../../src/lib/server/db/client.ts';
import { createApiKey } from '../../src/lib/server/auth/api-keys.ts';
import type { Scope } from '../../src/lib/schemas/vocabulary.ts';
import { newSigningSecret } from '../../src/lib/server/teams/create-team.ts';
import { createDatabase, deleteRedisPrefix, dropDatabase } from './services.ts';
import { resetEnv } from '../../src/lib/server/env.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';
import type { Prisma } from '../../src/lib/server/db/generated/client.ts';

export function uniqueSlug(base: string): string {
  return `${base}-${randomBytes(4).toString('hex')}`;
}

/** The shared web server of this run, and a client on its database for fixtures. */
export function useWebServer(): { url: string; db: Db } {
  const db = createDb(inject('webDatabaseUrl'), 4);
  afterAll(() => db.$disconnect());
  return { url: inject('webUrl'), db };
}

/**
 * A database cloned from the migrated template and a Redis prefix, both this file's own, wired
 * into process.env so lib/server code in this file uses them. Removed after the file.
 */
export async function useOwnDatabase(name: string): Promise<{ databaseUrl: string; redisUrl: string; prefix: string; env: { DATABASE_URL: string; REDIS_URL: string; QUEUE_PREFIX: string } }> {
  const adminUrl = inject('adminUrl');
  const dbName = `pipet_${inject('runId')}_${name}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = await createDatabase(adminUrl, dbName, inject('templateDb'));
  const prefix = `pipet-${inject('runId')}-${name}-${randomBytes(3).toString('hex')}`;
  const redisUrl = inject('redisUrl');
  Object.assign(process.env, { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix, NODE_ENV: 'test' });
  resetEnv();
  afterAll(async () => {
    const { closeAll } = await import('../../src/lib/server/shutdown.ts');
    await closeAll();
    await dropDatabase(adminUrl, dbName);
    await deleteRedisPrefix(redisUrl, prefix);
  });
  return { databaseUrl, redisUrl, prefix, env: { DATABASE_URL: databaseUrl, REDIS_URL: redisUrl, QUEUE_PREFIX: prefix } };
}

/** A stream of the team, with the id its slugs give it (streams/stream-id.ts), as Pipet creates them. */
export async function makeStream(db: Db, data: Omit<Prisma.StreamUncheckedCreateInput, 'id'>) {
  const { slug: teamSlug } = await db.team.findUniqueOrThrow({ where: { id: data.teamId }, select: { slug: true } });
  return db.stream.create({ data: { ...data, id: streamIdFor(teamSlug, data.slug) } });
}

export type TeamFixture = { id: string; slug: string; key(scopes: Scope[], streamSlug?: string): Promise<string> };

/** A team (no members) whose keys the test mints as it needs them. */
export async function makeTeam(db: Db, options: { autoCreateStreams?: boolean } = {}): Promise<TeamFixture> {
  const team = await db.team.create({
    data: { slug: uniqueSlug('team'), name: 'Test team', signingSecret: newSigningSecret(), autoCreateStreams: options.autoCreateStreams ?? true },
  });
  return {
    id: team.id,
    slug: team.slug,
    async key(scopes, streamSlug) {
      let streamId: string | null = null;
      if (streamSlug) {
        const id = streamIdFor(team.slug, streamSlug);
        const s = await db.stream.upsert({ where: { id }, create: { id, teamId: team.id, slug: streamSlug, name: streamSlug }, update: {} });
        streamId = s.id;
      }
      return (await createApiKey({ teamId: team.id, name: 'test', scopes, streamId, db })).key;
    },
  };
}
