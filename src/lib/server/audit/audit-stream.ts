// The team's audit log is a stream of its own, `/s/{team}/_audit`: a system stream (Stream.system)
// that Pipet alone writes. Its slug starts with `_`, which no stream slug may (SLUG_PATTERN), so no
// stream a team made, or an ingest key auto-created, can ever have its name or its id.
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { isSlug, Slug } from '../../schemas/vocabulary.ts';

export const AUDIT_STREAM_SLUG = '_audit';
export const AUDIT_STREAM_NAME = 'Audit log';

/** A stream named in a read or a reducer's procedure: any slug, or the audit log's. */
export const StreamRef = z.union([Slug, z.literal(AUDIT_STREAM_SLUG)]);

export const isStreamRef = (value: string): boolean => isSlug(value) || value === AUDIT_STREAM_SLUG;

/** What an append to a system stream answers, whoever sends it (403). */
export function systemStreamAppendRefused(teamSlug: string): AppError {
  return new AppError(
    'forbidden',
    `\`/s/${teamSlug}/${AUDIT_STREAM_SLUG}\` is the team's audit log, written by Pipet alone: it takes no appends, with any key, session or signature. Read it with a \`read\` key.`,
  );
}

/** What changing or deleting a system stream answers (403). */
export function systemStreamChangeRefused(what: string): AppError {
  return new AppError('forbidden', `The audit log (\`${AUDIT_STREAM_SLUG}\`) is kept by Pipet: it cannot be ${what}.`);
}

/** A person reading the audit log with their session needs to be an admin of its team, as for audit.list. */
export function systemStreamNeedsAdmin(teamSlug: string): AppError {
  return new AppError('forbidden', `The audit log of team \`${teamSlug}\` is for its admins (or a \`read\` key).`);
}
