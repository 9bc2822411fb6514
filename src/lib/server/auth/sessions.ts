// Sessions the Lucia way ("sessions from scratch", what Lucia now recommends): a random token in an
// httpOnly cookie, only its SHA-256 stored as the Session id, 30-day expiry that slides forward
// whenever a session is used within 15 days of expiring. Each session also records the device
// (User-Agent) and address it was last used from, and when (at most one write a minute), for the
// account page's list; and, for an account with two-factor on, whether the second factor was given.
import type { Cookies, RequestEvent } from '@sveltejs/kit';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { isProduction } from '../env.ts';
import { hashToken, randomToken, sha256Hex } from '../crypto.ts';

export const SESSION_COOKIE = 'pipet_session';
const DAY = 24 * 60 * 60 * 1000;
export const SESSION_LIFETIME_MS = 30 * DAY;
export const SESSION_RENEW_WITHIN_MS = 15 * DAY;
/** lastSeenAt (with the device and address) is written at most this often per session. */
export const SESSION_SEEN_EVERY_MS = 60_000;
const USER_AGENT_MAX = 256;

export type SessionUser = { id: string; email: string; twoFactor: boolean };
export type Session = { id: string; userId: string; expiresAt: Date; twoFactorVerified: boolean };
export type SessionValidation = { session: Session; user: SessionUser } | { session: null; user: null };

/** Where a session is used from: the device (User-Agent, trimmed) and the client address. */
export type SessionDetails = { userAgent?: string | null; address?: string | null };

/** The device and address of a request, as a session records them. */
export function sessionDetails(event: Pick<RequestEvent, 'request' | 'getClientAddress'>): SessionDetails {
  let address: string | null = null;
  try {
    address = event.getClientAddress();
  } catch {
    // No address known (a request made in-process): the list shows none.
  }
  return { userAgent: event.request.headers.get('user-agent'), address };
}

function clean({ userAgent, address }: SessionDetails): { userAgent: string | null; address: string | null } {
  const agent = userAgent?.replace(/[\u0000-\u001f\u007f]/g, '').trim().slice(0, USER_AGENT_MAX) || null;
  return { userAgent: agent, address: address?.slice(0, 64) || null };
}

/**
 * A new session for the user; the returned token goes into the cookie and nowhere else. It starts
 * without the second factor: an account with two-factor on gives it on the log-in page's second step.
 */
export async function createSession(userId: string, db: DbTx = defaultDb(), details: SessionDetails = {}): Promise<{ token: string; session: Session }> {
  const token = randomToken(20);
  const session = await db.session.create({
    data: { id: hashToken(token), userId, expiresAt: new Date(Date.now() + SESSION_LIFETIME_MS), ...clean(details) },
    select: { id: true, userId: true, expiresAt: true, twoFactorVerified: true },
  });
  return { token, session };
}

/**
 * The session and user for a cookie's token; expired sessions are deleted, old ones extended, and
 * the device, address and time of use recorded when a minute has passed since the last record.
 */
export async function validateSessionToken(token: string, db: DbTx = defaultDb(), seen?: SessionDetails): Promise<SessionValidation> {
  if (!/^[a-z0-9]{16,64}$/.test(token)) return { session: null, user: null };
  const id = hashToken(token);
  const row = await db.session.findUnique({
    where: { id },
    select: { id: true, userId: true, expiresAt: true, twoFactorVerified: true, lastSeenAt: true, user: { select: { id: true, email: true, totpKey: true } } },
  });
  if (!row) return { session: null, user: null };
  const { user, lastSeenAt, ...session } = row;
  const now = Date.now();
  if (now >= session.expiresAt.getTime()) {
    await db.session.deleteMany({ where: { id } });
    return { session: null, user: null };
  }
  const data: { expiresAt?: Date; lastSeenAt?: Date; userAgent?: string | null; address?: string | null } = {};
  if (now >= session.expiresAt.getTime() - SESSION_RENEW_WITHIN_MS) data.expiresAt = session.expiresAt = new Date(now + SESSION_LIFETIME_MS);
  if (seen && now - lastSeenAt.getTime() >= SESSION_SEEN_EVERY_MS) Object.assign(data, { lastSeenAt: new Date(now) }, clean(seen));
  // deleteMany's sibling: a session ended meanwhile stays ended (update would throw).
  if (Object.keys(data).length > 0) await db.session.updateMany({ where: { id }, data });
  return { session, user: { id: user.id, email: user.email, twoFactor: user.totpKey !== null } };
}

/**
 * Whether the session still exists and has not expired, read without touching it (no sliding, no
 * "last seen"): how open streams re-check the session that opened them.
 */
export async function sessionIsLive(sessionId: string, db: DbTx = defaultDb()): Promise<boolean> {
  const row = await db.session.findUnique({ where: { id: sessionId }, select: { expiresAt: true } });
  return !!row && row.expiresAt.getTime() > Date.now();
}

/** The second factor was given in this session. */
export async function markSessionTwoFactorVerified(sessionId: string, db: DbTx = defaultDb()): Promise<void> {
  await db.session.updateMany({ where: { id: sessionId }, data: { twoFactorVerified: true } });
}

/**
 * How a session is named outside the server (the account page, session.end): derived from its id,
 * which is itself the token's hash, so the list never hands out what the database keys sessions by.
 */
export function sessionHandle(sessionId: string): string {
  return sha256Hex(`pipet-session:${sessionId}`).slice(0, 32);
}

export async function invalidateSession(sessionId: string, db: DbTx = defaultDb()): Promise<void> {
  await db.session.deleteMany({ where: { id: sessionId } });
}

/** Log out everywhere: every session of the user, on every device (but `exceptSessionId`, if given). */
export async function invalidateUserSessions(userId: string, db: DbTx = defaultDb(), exceptSessionId?: string | null): Promise<number> {
  const { count } = await db.session.deleteMany({ where: { userId, ...(exceptSessionId ? { id: { not: exceptSessionId } } : {}) } });
  return count;
}

export function setSessionCookie(cookies: Cookies, token: string, expiresAt: Date): void {
  cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', secure: isProduction(), path: '/', expires: expiresAt });
}

export function deleteSessionCookie(cookies: Cookies): void {
  cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', secure: isProduction(), path: '/', maxAge: 0 });
}
