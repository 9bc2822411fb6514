// Where a person lands after signing in: a same-site `redirectTo` (an invite link, a deep link),
// else their personal team, else their first team.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { sameOriginPath } from './safe-redirect.ts';

export type LandingOptions = {
  /** `?redirectTo=` or the form's field, as received: only a path on `origin` is followed. */
  redirectTo?: string | null;
  /** The site's own origin (the request URL's); without it `redirectTo` is ignored. */
  origin?: string;
};

export async function landingPath(userId: string, { redirectTo, origin }: LandingOptions = {}, db: DbTx = defaultDb()): Promise<string> {
  const safe = origin ? sameOriginPath(redirectTo, origin) : null;
  if (safe) return safe;
  const m = await db.membership.findFirst({ where: { userId }, select: { team: { select: { slug: true } } }, orderBy: [{ team: { personal: 'desc' } }, { createdAt: 'asc' }] });
  return m ? `/${m.team.slug}` : '/';
}
