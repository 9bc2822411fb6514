// API keys: `pk_<prefix>_<secret>`, shown once, stored as a SHA-256 hash. The prefix names the key
// in lists without revealing it.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { hashToken, randomToken } from '../crypto.ts';

import type { Scope } from '../../schemas/vocabulary.ts';

export type CreateApiKeyOptions = {
  teamId: string;
  name: string;
  scopes: Scope[];
  streamId?: string | null;
  createdById?: string | null;
  db?: DbTx;
};

export async function createApiKey({ teamId, name, scopes, streamId = null, createdById = null, db = defaultDb() }: CreateApiKeyOptions) {
  const unique = [...new Set(scopes)];
  if (unique.length === 0) throw new AppError('bad_request', 'A key needs at least one scope (ingest, read, manage).');
  // The management API is team-wide; a stream-limited manage key would be a team admin anyway.
  if (streamId && unique.includes('manage')) throw new AppError('bad_request', 'A `manage` key cannot be limited to one stream: the management API is team-wide.');
  const prefix = randomToken(5);
  const key = `pk_${prefix}_${randomToken(20)}`;
  const row = await db.apiKey.create({
    data: { teamId, name, scopes: unique, streamId, createdById, prefix, hash: hashToken(key) },
    select: { id: true, name: true, prefix: true, scopes: true, streamId: true, createdAt: true },
  });
  return { ...row, key };
}

/** The live (not revoked) key with this secret, or null. Never cached: revocation is immediate. */
export async function findApiKey(key: string, db: DbTx = defaultDb()) {
  if (!/^pk_[a-z0-9]+_[a-z0-9]+$/.test(key)) return null;
  const row = await db.apiKey.findUnique({ where: { hash: hashToken(key) } });
  if (!row || row.revokedAt) return null;
  if (!row.lastUsedAt || Date.now() - row.lastUsedAt.getTime() > 60_000) {
    // Throttled so a busy key does not turn every request into a write.
    db.apiKey.update({ where: { id: row.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
  }
  return row;
}

export type ApiKeyRow = NonNullable<Awaited<ReturnType<typeof findApiKey>>>;
