// Who is calling the management API: a signed-in user (session cookie, resolved once in hooks)
// or a `manage` API key, which acts for its own team only.
import { db as defaultDb, type Db } from '../db/client.ts';
import { findApiKey } from '../auth/api-keys.ts';
import type { Caller } from '../auth/caller.ts';
export type { Caller };

/** `origin` is the request's origin, for links in emails when PUBLIC_URL is not set. */
export type Context = { db: Db; caller: Caller; clientAddress: string; origin?: string };

export type CreateContextOptions = {
  user?: { id: string; email: string; twoFactor?: boolean } | null;
  /** The session `user` signed in with (event.locals.session). */
  session?: { id: string } | null;
  authorization?: string | null;
  clientAddress?: string;
  origin?: string;
  db?: Db;
};

export async function createContext({ user, session, authorization, clientAddress = 'unknown', origin, db = defaultDb() }: CreateContextOptions): Promise<Context> {
  const bearer = authorization ? /^Bearer\s+(\S+)$/i.exec(authorization)?.[1] : undefined;
  if (bearer) {
    const key = await findApiKey(bearer);
    // A bad or revoked key is anonymous; procedures then answer UNAUTHORIZED.
    return { db, clientAddress, origin, caller: key ? { kind: 'key', keyId: key.id, teamId: key.teamId, scopes: key.scopes } : { kind: 'anonymous', invalidKey: true } };
  }
  if (user) return { db, clientAddress, origin, caller: { kind: 'user', userId: user.id, email: user.email, sessionId: session?.id ?? null, twoFactor: user.twoFactor ?? false } };
  return { db, clientAddress, origin, caller: { kind: 'anonymous' } };
}
