// Who may read or append to /s/{team}/{stream}: a key with the right scope for this team (and
// stream, if the key is limited to one), a signed-in member, or anyone when the stream is public.
// Reads only: a stream that an append may create is reported as such, and created by the caller.
// A system stream (the audit log, `_audit`) takes no append from anyone, and a person reads it
// with their session only as an admin; keys read it by their `read` scope, as any stream.
import type { LimitedTeam } from '../rate-limit.ts';
import { db as defaultDb, sql, type DbTx } from '../db/client.ts';
import { cached } from './auth-cache.ts';
import { AppError } from '../errors.ts';
import { findApiKey } from './api-keys.ts';
import { atLeast, isSlug } from '../../schemas/vocabulary.ts';
import { AUDIT_STREAM_SLUG, isStreamRef, systemStreamAppendRefused, systemStreamNeedsAdmin } from '../audit/audit-stream.ts';
import { streamIdFor } from '../streams/stream-id.ts';
import { twoFactorRequired } from './two-factor.ts';
import type { SignatureScheme } from '../../schemas/stream-signature.ts';

/** `manage`: changing what the stream's reducers hold (deleting a key), with a manage key or as a member. */
export type StreamAccess = 'read' | 'append' | 'manage';

export type AuthorizeStreamOptions = {
  teamSlug: string;
  streamSlug: string;
  access: StreamAccess;
  /** The bearer key or `?key=`, if any. */
  key?: string | null;
  /** Where `key` came from: a key in the URL (`?key=`) may only be an ingest key, and only append. */
  keyFrom?: 'header' | 'query';
  /** The signed-in user, if any. */
  userId?: string | null;
  /** The signed-in user has two-factor on (and gave it): a team may require it of its members. */
  userTwoFactor?: boolean;
};

export type GrantedStream = {
  id: string;
  slug: string;
  teamId: string;
  allowedOrigins: string[];
  /** When set, every POST must be signed so (verified by the append, on the raw body) whoever sends it. */
  signatureScheme: SignatureScheme | null;
  signatureSecret: string | null;
};

export type StreamGrant = {
  stream: GrantedStream;
  team: { id: string; slug: string } & LimitedTeam;
  /** True when access comes from the stream being public or signed: such callers are rate-limited per address. */
  anonymous: boolean;
  /**
   * Who is asking: `key:<id>`, `user:<id>`, `anon` (public access; the caller adds the address), or
   * `signed:<stream id>` (an append to a signed stream with no other credential: its signature, still
   * to be checked on the body, is the credential).
   */
  principal: string;
};

/** A team-wide ingest key appending to a stream that does not exist yet, in a team that auto-creates streams. */
export type CreateGrant = { stream: null; team: StreamGrant['team']; anonymous: false; principal: string; createSlug: string };


export async function authorizeStream({ teamSlug, streamSlug, access, key, keyFrom = 'header', userId, userTwoFactor = false }: AuthorizeStreamOptions): Promise<StreamGrant | CreateGrant> {
  if (!isSlug(teamSlug) || !isStreamRef(streamSlug)) {
    throw new AppError('not_found', 'No such stream: team and stream names are lowercase letters, digits and dashes.');
  }
  // The key and the team with its stream: from this process's cache (auth-cache.ts), else looked up at once.
  const [apiKey, found] = await Promise.all([key ? findApiKey(key) : null, loadTeamAndStream(teamSlug, streamSlug)]);
  const team = found?.team ?? null;
  if (access === 'append' && (streamSlug === AUDIT_STREAM_SLUG || found?.stream?.system)) throw systemStreamAppendRefused(teamSlug);

  if (key) {
    if (!apiKey) throw new AppError('unauthorized', 'This API key is not valid (it may have been revoked).');
    if (!team || apiKey.teamId !== team.id) throw new AppError('forbidden', 'This API key belongs to another team.');
    if (keyFrom === 'query') refuseKeyInUrl(apiKey.scopes, access);
    const scope = access === 'append' ? 'ingest' : access;
    if (!apiKey.scopes.includes(scope)) throw new AppError('forbidden', `This API key lacks the \`${scope}\` scope.`);
    const stream = found?.stream ?? null;
    if (apiKey.streamId && stream?.id !== apiKey.streamId) throw new AppError('forbidden', 'This API key is limited to another stream.');
    const principal = `key:${apiKey.id}`;
    if (!stream && access === 'append' && team.autoCreateStreams) return { stream: null, team, anonymous: false, principal, createSlug: streamSlug };
    if (!stream) throw new AppError('not_found', `No stream \`${streamSlug}\` in team \`${teamSlug}\`.`);
    return { stream, team, anonymous: false, principal };
  }

  const stream = found?.stream ?? null;
  let refusal: AppError | null = null;
  if (team && userId) {
    const member = await defaultDb().membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId } }, select: { role: true } });
    // A member without two-factor, in a team that requires it, is refused as a member (public streams stay public).
    if (member && team.requireTwoFactor && !userTwoFactor) refusal = twoFactorRequired(teamSlug);
    else if (member) {
      if (stream?.system && !atLeast(member.role, 'admin')) throw systemStreamNeedsAdmin(teamSlug);
      if (!stream) throw new AppError('not_found', `No stream \`${streamSlug}\` in team \`${teamSlug}\`.`);
      return { stream, team, anonymous: false, principal: `user:${userId}` };
    }
  }
  // A signed stream's signature is its senders' credential: no key in a third party's URL.
  if (stream && access === 'append' && stream.signatureScheme) return { stream, team: team!, anonymous: true, principal: `signed:${stream.id}` };
  if (stream && access !== 'manage' && (access === 'read' ? stream.publicRead : stream.publicWrite)) return { stream, team: team!, anonymous: true, principal: 'anon' };
  throw refusal ?? new AppError('unauthorized', 'Authentication required: send `Authorization: Bearer <key>` (or `?key=<ingest key>` for HTML forms).');
}

/**
 * URLs end up in access logs, browser history and Referer headers, so only keys designed to be
 * public (ingest-only, for HTML forms) are accepted there.
 */
function refuseKeyInUrl(scopes: string[], access: StreamAccess): void {
  const others = scopes.filter((s) => s !== 'ingest');
  if (others.length > 0) {
    throw new AppError(
      'forbidden',
      `Only ingest keys may be sent in the URL (\`?key=\`): this key also has the ${others.map((s) => `\`${s}\``).join(' and ')} scope, and URLs end up in logs and browser history. Send it as \`Authorization: Bearer <key>\` instead (and revoke it if the URL was shared).`,
    );
  }
  if (access !== 'append') {
    throw new AppError('forbidden', 'A key in the URL (`?key=`) can only append, from HTML forms; read with `Authorization: Bearer <key>`.');
  }
}

type StreamRow = StreamGrant['stream'] & { publicRead: boolean; publicWrite: boolean; system: boolean };

type TeamAndStream = { team: StreamGrant['team'] & { autoCreateStreams: boolean; requireTwoFactor: boolean }; stream: StreamRow | null };

/** The team and (if it exists) its stream; cached while the stream exists, so creating one needs no invalidation. */
function loadTeamAndStream(teamSlug: string, streamSlug: string): Promise<TeamAndStream | null> {
  return cached(
    `stream:${teamSlug}/${streamSlug}`,
    async () => {
      const [r] = await sql<{ teamId: string; autoCreateStreams: boolean; requireTwoFactor: boolean } & Omit<LimitedTeam, 'id'> & { [K in keyof StreamRow]: StreamRow[K] | null }>(
        `SELECT t.id AS "teamId", t."autoCreateStreams", t."requireTwoFactor", t."rateLimitPerMinute", t."accountId", u."rateLimitPerMinute" AS "accountRateLimitPerMinute",
                s.id, s.slug, s."allowedOrigins", s."publicRead", s."publicWrite", s."signatureScheme", s."signatureSecret", s.system
         FROM "Team" t LEFT JOIN "User" u ON u.id = t."accountId" LEFT JOIN "Stream" s ON s.id = $2::uuid AND s."teamId" = t.id
         WHERE t.slug = $1`,
        // By primary key, the id derived from the slugs: one shard on Citus (Team is a reference table).
        [teamSlug, streamIdFor(teamSlug, streamSlug)],
      );
      if (!r) return null;
      const team = {
        id: r.teamId,
        slug: teamSlug,
        autoCreateStreams: r.autoCreateStreams,
        requireTwoFactor: r.requireTwoFactor,
        rateLimitPerMinute: r.rateLimitPerMinute,
        accountId: r.accountId,
        accountRateLimitPerMinute: r.accountRateLimitPerMinute,
      };
      const stream: StreamRow | null = r.id
        ? {
            id: r.id,
            slug: r.slug!,
            teamId: r.teamId,
            allowedOrigins: r.allowedOrigins ?? [],
            publicRead: r.publicRead!,
            publicWrite: r.publicWrite!,
            signatureScheme: r.signatureScheme,
            signatureSecret: r.signatureSecret,
            system: r.system!,
          }
        : null;
      return { team, stream };
    },
    (v) => v?.team.id ?? null,
    (v) => !!v?.stream,
  );
}

/** The stream's allowed origins, for CORS on responses that failed before authorization. */
export async function allowedOriginsOf(teamSlug: string, streamSlug: string, db: DbTx = defaultDb()): Promise<string[]> {
  if (!isSlug(teamSlug) || !isStreamRef(streamSlug)) return [];
  const stream = await db.stream.findUnique({ where: { id: streamIdFor(teamSlug, streamSlug) }, select: { allowedOrigins: true } });
  return stream?.allowedOrigins ?? [];
}
