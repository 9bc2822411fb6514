// Sessions ended outside the management API — "log out everywhere" and a completed password reset —
// go into the audit log of each of the person's teams, as session.end and session.endOthers do.
import type { Db } from '../db/client.ts';
import { recordAudit } from './record-audit.ts';

export type SessionsEnded = { db: Db; user: { id: string; email: string }; clientAddress: string; count: number; reason: 'log out everywhere' | 'password reset' };

/** Records that `count` sessions of `user` ended, after the fact (nothing is recorded when none did). */
export async function recordSessionsEnded({ db, user, clientAddress, count, reason }: SessionsEnded): Promise<void> {
  if (count === 0) return;
  const teams = (await db.membership.findMany({ where: { userId: user.id }, select: { team: { select: { id: true, slug: true } } } })).map((m) => m.team);
  await recordAudit({ db, caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress }, teams, { action: 'session.ended', target: { userId: user.id, count, reason } });
}
