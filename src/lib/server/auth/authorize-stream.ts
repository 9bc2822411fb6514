// Who may read or append to /s/{team}/{stream}: a key with the right scope for this team (and
// stream, if the key is limited to one), a signed-in member, or anyone when the stream is public.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { findApiKey } from './api-keys.ts';
import { ensureStream } from '../streams/ensure-stream.ts';

export type StreamAccess = 'read' | 'append';

export type AuthorizeStreamOptions = {
  teamSlug: string;
  streamSlug: string;
  access: StreamAccess;
  /** The bearer key or `?key=`, if any. */
  key?: string | null;
  /** The signed-in user, if any. */
  userId?: string | null;
  db?: DbTx;
};

export type StreamGrant = {
  stream: { id: string; slug: string; teamId: string; length: number; allowedOrigins: string[] };
  team: { id: string; slug: string };
  /** True when access comes from the stream being public: such callers are rate-limited. */
  anonymous: boolean;
};

const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const streamSelect = { id: true, slug: true, teamId: true, length: true, allowedOrigins: true, publicRead: true, publicWrite: true } as const;

export async function authorizeStream({ teamSlug, streamSlug, access, key, userId, db = defaultDb() }: AuthorizeStreamOptions): Promise<StreamGrant> {
  if (!SLUG.test(teamSlug) || !SLUG.test(streamSlug)) {
    throw new AppError('not_found', 'No such stream: team and stream names are lowercase letters, digits and dashes.');
  }
  const team = await db.team.findUnique({ where: { slug: teamSlug }, select: { id: true, slug: true, autoCreateStreams: true } });
  const findStream = () => (team ? db.stream.findUnique({ where: { teamId_slug: { teamId: team.id, slug: streamSlug } }, select: streamSelect }) : null);

  if (key) {
    const apiKey = await findApiKey(key, db);
    if (!apiKey) throw new AppError('unauthorized', 'This API key is not valid (it may have been revoked).');
    if (!team || apiKey.teamId !== team.id) throw new AppError('forbidden', 'This API key belongs to another team.');
    const scope = access === 'read' ? 'read' : 'ingest';
    if (!apiKey.scopes.includes(scope)) throw new AppError('forbidden', `This API key lacks the \`${scope}\` scope.`);
    let stream = await findStream();
    if (apiKey.streamId && stream?.id !== apiKey.streamId) throw new AppError('forbidden', 'This API key is limited to another stream.');
    if (!stream && access === 'append' && team.autoCreateStreams) {
      stream = await ensureStream({ teamId: team.id, slug: streamSlug, select: streamSelect, db });
    }
    if (!stream) throw new AppError('not_found', `No stream \`${streamSlug}\` in team \`${teamSlug}\`.`);
    return { stream, team, anonymous: false };
  }

  const stream = await findStream();
  if (team && userId) {
    const member = await db.membership.findUnique({ where: { teamId_userId: { teamId: team.id, userId } }, select: { role: true } });
    if (member) {
      if (!stream) throw new AppError('not_found', `No stream \`${streamSlug}\` in team \`${teamSlug}\`.`);
      return { stream, team, anonymous: false };
    }
  }
  if (stream && (access === 'read' ? stream.publicRead : stream.publicWrite)) return { stream, team: team!, anonymous: true };
  throw new AppError('unauthorized', 'Authentication required: send `Authorization: Bearer <key>` (or `?key=` for HTML forms).');
}

/** The stream's allowed origins, for CORS on responses that failed before authorization. */
export async function allowedOriginsOf(teamSlug: string, streamSlug: string, db: DbTx = defaultDb()): Promise<string[]> {
  if (!SLUG.test(teamSlug) || !SLUG.test(streamSlug)) return [];
  const stream = await db.stream.findFirst({ where: { slug: streamSlug, team: { slug: teamSlug } }, select: { allowedOrigins: true } });
  return stream?.allowedOrigins ?? [];
}
