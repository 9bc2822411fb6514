// API keys: `pk_<prefix>_<secret>`, shown once, stored as a SHA-256 hash. The prefix names the key
// in lists without revealing it.
import { db as defaultDb, sql, type DbTx } from '../db/client.ts';
import { cached } from './auth-cache.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { hashToken, randomToken } from '../crypto.ts';

import type { Scope } from '../../schemas/vocabulary.ts';

export type CreateApiKeyOptions = {
  teamId: string;
  name: string;
  scopes: Scope[];
  streamId?: string | null;
  createdById?: string | null;
  createdByKeyId?: string | null;
  db?: DbTx;
};

export async function createApiKey({ teamId, name, scopes, streamId = null, createdById = null, createdByKeyId = null, db = defaultDb() }: CreateApiKeyOptions) {
  const unique = [...new Set(scopes)];
  if (unique.length === 0) throw new AppError('bad_request', 'A key needs at least one scope (ingest, read, manage).');
  // The management API is team-wide; a stream-limited manage key would be a team admin anyway.
  if (streamId && unique.includes('manage')) throw new AppError('bad_request', 'A `manage` key cannot be limited to one stream: the management API is team-wide.');
  await checkKeysPerTeam(teamId, db);
  if (streamId) {
    // No foreign key holds the key to its stream (ApiKey is a reference table on Citus): in the
    // caller's transaction, the stream's row lock keeps a stream.delete from slipping in between,
    // which would leave a key that a stream re-created under the same slugs (same id) would honour.
    const [stream] = await db.$queryRaw<unknown[]>`SELECT 1 FROM "Stream" WHERE id = ${streamId}::uuid AND "teamId" = ${teamId}::uuid FOR SHARE`;
    if (!stream) throw new AppError('not_found', 'No such stream in this team.');
  }
  const prefix = randomToken(5);
  const key = `pk_${prefix}_${randomToken(20)}`;
  const row = await db.apiKey.create({
    data: { teamId, name, scopes: unique, streamId, createdById, createdByKeyId, prefix, hash: hashToken(key) },
    select: { id: true, name: true, prefix: true, scopes: true, streamId: true, createdAt: true },
  });
  return { ...row, key };
}

/** Refuses a key beyond API_KEYS_PER_TEAM live keys; in a transaction, the team's row lock makes concurrent creations count one after another. */
async function checkKeysPerTeam(teamId: string, db: DbTx): Promise<void> {
  await db.$queryRaw`SELECT 1 FROM "Team" WHERE id = ${teamId}::uuid FOR UPDATE`;
  const live = await db.apiKey.count({ where: { teamId, revokedAt: null } });
  const limit = env().API_KEYS_PER_TEAM;
  if (live >= limit) throw new AppError('forbidden', `A team may hold ${limit} live API keys, and this one holds ${live}. Revoke keys you no longer use first.`);
}

export type ApiKeyRow = { id: string; teamId: string; scopes: string[]; streamId: string | null };

const lastUseRecorded = new Map<string, number>();

/**
 * The live (not revoked) key with this secret, or null. Cached per process (auth-cache.ts): a
 * revocation is broadcast and acknowledged by every web process before `apiKey.revoke` returns.
 * Unknown and revoked keys are cached too — neither can ever become valid.
 */
export async function findApiKey(key: string): Promise<ApiKeyRow | null> {
  if (!/^pk_[a-z0-9]+_[a-z0-9]+$/.test(key)) return null;
  const hash = hashToken(key);
  const row = await cached(
    `key:${hash}`,
    async () => {
      const [r] = await sql<ApiKeyRow & { revoked: boolean }>(`SELECT id, "teamId", scopes, "streamId", "revokedAt" IS NOT NULL AS revoked FROM "ApiKey" WHERE hash = $1`, [hash]);
      return r && !r.revoked ? { id: r.id, teamId: r.teamId, scopes: r.scopes, streamId: r.streamId } : null;
    },
    (r) => r?.teamId ?? null,
  );
  if (row && Date.now() - (lastUseRecorded.get(row.id) ?? 0) > 60_000) {
    // Throttled so a busy key does not turn every request into a write.
    lastUseRecorded.set(row.id, Date.now());
    if (lastUseRecorded.size > 100_000) lastUseRecorded.clear();
    void sql(`UPDATE "ApiKey" SET "lastUsedAt" = now() WHERE id = $1`, [row.id]).catch(() => {});
  }
  return row;
}
