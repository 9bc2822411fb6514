// Segment-style write keys: an ingest key limited to one stream. It arrives as HTTP Basic (`key:`
// or `key` as the user name), as a Bearer token, or as `writeKey` in the body.
import type { LimitedTeam } from '../rate-limit.ts';
import { sql } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { cached } from './auth-cache.ts';
import { findApiKey } from './api-keys.ts';
import type { SignatureScheme } from '../../schemas/stream-signature.ts';

export type WriteKeyGrant = {
  keyId: string;
  /** The key's scopes: a key with more than `ingest` should not be published in a page or a URL. */
  scopes: string[];
  stream: { id: string; slug: string; teamId: string };
  team: { id: string; slug: string } & LimitedTeam;
  /** `key:<id>`: the same rate-limit bucket as the key's requests to /s/…. */
  principal: string;
};

/** The key in `Authorization` (Basic or Bearer), or null when there is none. */
export function writeKeyFromHeader(header: string | null): string | null {
  if (!header) return null;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=_-]+)$/i.exec(header.trim());
  if (!basic) throw new AppError('unauthorized', 'Send the write key as HTTP Basic (`<key>:` as the user name), as `Authorization: Bearer <key>`, or as `writeKey` in the body.');
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const user = decoded.includes(':') ? decoded.slice(0, decoded.indexOf(':')) : decoded;
  return user || null;
}

type StreamRow = { id: string; slug: string; teamId: string; teamSlug: string; signatureScheme: SignatureScheme | null } & Omit<LimitedTeam, 'id'>;

function loadStream(streamId: string): Promise<StreamRow | null> {
  return cached(
    `writekey-stream:${streamId}`,
    async () => {
      const [r] = await sql<StreamRow>(
        `SELECT s.id, s.slug, s."teamId", t.slug AS "teamSlug", t."rateLimitPerMinute", t."accountId", u."rateLimitPerMinute" AS "accountRateLimitPerMinute", s."signatureScheme"
         FROM "Stream" s JOIN "Team" t ON t.id = s."teamId" LEFT JOIN "User" u ON u.id = t."accountId" WHERE s.id = $1`,
        [streamId],
      );
      return r ?? null;
    },
    (r) => r?.teamId ?? null,
    (r) => !!r,
  );
}

export async function authorizeWriteKey(key: string | null): Promise<WriteKeyGrant> {
  if (!key) throw new AppError('unauthorized', 'No write key: send it as HTTP Basic (`<key>:` as the user name), as `Authorization: Bearer <key>`, or as `writeKey` in the body.');
  const apiKey = await findApiKey(key);
  if (!apiKey) throw new AppError('unauthorized', 'This write key is not valid (it may have been revoked).');
  if (!apiKey.scopes.includes('ingest')) throw new AppError('forbidden', 'A write key needs the `ingest` scope.');
  if (!apiKey.streamId) throw new AppError('forbidden', 'A write key is an ingest key limited to one stream: create one for the stream the messages should land in.');
  const stream = await loadStream(apiKey.streamId);
  if (!stream) throw new AppError('not_found', "This write key's stream no longer exists.");
  // Segment messages are not signed by anyone: a stream that requires signatures takes none of them.
  if (stream.signatureScheme) throw new AppError('unauthorized', `Stream \`${stream.slug}\` accepts only signed POSTs (${stream.signatureScheme}); Segment messages cannot be signed. Nothing was stored.`);
  return {
    keyId: apiKey.id,
    scopes: apiKey.scopes,
    stream: { id: stream.id, slug: stream.slug, teamId: stream.teamId },
    team: { id: stream.teamId, slug: stream.teamSlug, rateLimitPerMinute: stream.rateLimitPerMinute, accountId: stream.accountId, accountRateLimitPerMinute: stream.accountRateLimitPerMinute },
    principal: `key:${apiKey.id}`,
  };
}
