// Sessions the Lucia way ("sessions from scratch", what Lucia now recommends): a random token in an
// httpOnly cookie, only its SHA-256 stored as the Session id, 30-day expiry that slides forward
// whenever a session is used within 15 days of expiring.
import type { Cookies } from '@sveltejs/kit';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { isProduction } from '../env.ts';
import { hashToken, randomToken } from '../crypto.ts';

export const SESSION_COOKIE = 'pipet_session';
const DAY = 24 * 60 * 60 * 1000;
export const SESSION_LIFETIME_MS = 30 * DAY;
export const SESSION_RENEW_WITHIN_MS = 15 * DAY;

export type SessionUser = { id: string; email: string };
export type Session = { id: string; userId: string; expiresAt: Date };
export type SessionValidation = { session: Session; user: SessionUser } | { session: null; user: null };

/** A new session for the user; the returned token goes into the cookie and nowhere else. */
export async function createSession(userId: string, db: DbTx = defaultDb()): Promise<{ token: string; session: Session }> {
  const token = randomToken(20);
  const session = await db.session.create({
    data: { id: hashToken(token), userId, expiresAt: new Date(Date.now() + SESSION_LIFETIME_MS) },
    select: { id: true, userId: true, expiresAt: true },
  });
  return { token, session };
}

/** The session and user for a cookie's token; expired sessions are deleted, old ones extended. */
export async function validateSessionToken(token: string, db: DbTx = defaultDb()): Promise<SessionValidation> {
  if (!/^[a-z0-9]{16,64}$/.test(token)) return { session: null, user: null };
  const id = hashToken(token);
  const row = await db.session.findUnique({ where: { id }, select: { id: true, userId: true, expiresAt: true, user: { select: { id: true, email: true } } } });
  if (!row) return { session: null, user: null };
  const { user, ...session } = row;
  if (Date.now() >= session.expiresAt.getTime()) {
    await db.session.deleteMany({ where: { id } });
    return { session: null, user: null };
  }
  if (Date.now() >= session.expiresAt.getTime() - SESSION_RENEW_WITHIN_MS) {
    session.expiresAt = new Date(Date.now() + SESSION_LIFETIME_MS);
    await db.session.update({ where: { id }, data: { expiresAt: session.expiresAt } });
  }
  return { session, user };
}

export async function invalidateSession(sessionId: string, db: DbTx = defaultDb()): Promise<void> {
  await db.session.deleteMany({ where: { id: sessionId } });
}

/** Log out everywhere: every session of the user, on every device. */
export async function invalidateUserSessions(userId: string, db: DbTx = defaultDb()): Promise<number> {
  const { count } = await db.session.deleteMany({ where: { userId } });
  return count;
}

export function setSessionCookie(cookies: Cookies, token: string, expiresAt: Date): void {
  cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: isProduction(), path: '/', expires: expiresAt });
}

export function deleteSessionCookie(cookies: Cookies): void {
  cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: isProduction(), path: '/', maxAge: 0 });
}
