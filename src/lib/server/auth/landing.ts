// Where a person lands after signing in: a same-site `redirectTo` (an invite link, a deep link),
// else their personal team, else their first team.
import { db as defaultDb, type DbTx } from '../db/client.ts';

/** Only paths on this site: `/x`, never `//evil.example` or `/\evil.example`. */
export function safeRedirect(target: string | null | undefined): string | null {
  if (!target || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\')) return null;
  return target;
}

export async function landingPath(userId: string, redirectTo?: string | null, db: DbTx = defaultDb()): Promise<string> {
  const safe = safeRedirect(redirectTo);
  if (safe) return safe;
  const m = await db.membership.findFirst({ where: { userId }, select: { team: { select: { slug: true } } }, orderBy: [{ team: { personal: 'desc' } }, { createdAt: 'asc' }] });
  return m ? `/${m.team.slug}` : '/';
}
