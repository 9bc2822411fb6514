// What one entry of the audit log holds: the action, who did it (a person, or a key with its
// creator), when, from which address, and its target — ids and names, never a secret, token or key.
import { z } from 'zod';
import type { DbTx } from '../db/client.ts';
import type { Caller } from '../auth/caller.ts';

export const AUDIT_ACTIONS = [
  'key.created',
  'key.revoked',
  'key.handed_over',
  'member.invited',
  'member.invite_revoked',
  'member.joined',
  'member.removed',
  'member.left',
  'member.role_changed',
  'team.settings_changed',
  'team.ownership_transferred',
  'team.signing_secret_rotated',
  'stream.created',
  'stream.settings_changed',
  'stream.signature_changed',
  'stream.deleted',
  'reducer.saved',
  'reducer.replayed',
  'reducer.deleted',
  'session.ended',
] as const;
export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;

export type AuditActor =
  | { type: 'user'; id: string; email: string }
  /** A manage key: its id, name and prefix (never the secret), and the person it stands for. */
  | { type: 'key'; id: string; name: string | null; prefix: string | null; createdBy: { id: string; email: string } | null }
  | { type: 'system' };

/** Plain JSON describing what was acted on. Callers put ids, names, emails and settings here: nothing secret. */
export type AuditTarget = { [field: string]: string | number | boolean | null | undefined | string[] | AuditTarget | AuditTarget[] };

/** The event appended to `/s/{team}/_audit`. */
export type AuditEntry = { action: AuditAction; at: string; actor: AuditActor; address: string | null; target: AuditTarget };

/** Who is acting, as the log names them: a key is looked up for its name, prefix and creator. */
export async function actorOf(caller: Caller, db: DbTx): Promise<AuditActor> {
  if (caller.kind === 'user') return { type: 'user', id: caller.userId, email: caller.email };
  if (caller.kind === 'key') {
    const key = await db.apiKey.findUnique({ where: { id: caller.keyId }, select: { name: true, prefix: true, createdBy: { select: { id: true, email: true } } } });
    return { type: 'key', id: caller.keyId, name: key?.name ?? null, prefix: key?.prefix ?? null, createdBy: key?.createdBy ?? null };
  }
  return { type: 'system' };
}
