import { sequence } from '@sveltejs/kit/hooks';
import type { Handle } from '@sveltejs/kit';
import { handleCsrf } from '$lib/server/http/csrf.ts';
import { handlePublicApiErrors } from '$lib/server/http/public-errors.ts';
import { deleteSessionCookie, SESSION_COOKIE, setSessionCookie, validateSessionToken } from '$lib/server/auth/sessions.ts';

/** The session cookie, validated once per request into locals; renewed or cleared as needed. */
const handleSession: Handle = async ({ event, resolve }) => {
  event.locals.user = null;
  event.locals.session = null;
  const token = event.cookies.get(SESSION_COOKIE);
  if (token) {
    // With PostgreSQL unreachable, carry on signed out (keeping the cookie): routes answer 503 themselves.
    const result = await validateSessionToken(token).catch(() => null);
    if (result?.session) {
      // Re-set on every request so the browser's expiry follows the sliding one.
      setSessionCookie(event.cookies, token, result.session.expiresAt);
      event.locals.session = { id: result.session.id, expiresAt: result.session.expiresAt };
      event.locals.user = result.user;
    } else if (result) {
      deleteSessionCookie(event.cookies);
    }
  }
  return resolve(event);
};

export const handle = sequence(handlePublicApiErrors, handleCsrf, handleSession);

// adapter-node emits this after the server stops accepting requests (SIGTERM / SIGINT): close the
// pools and connections that would otherwise keep the process alive.
process.once('sveltekit:shutdown' as 'exit', async () => {
  const { closeAll } = await import('$lib/server/shutdown.ts');
  await closeAll();
});
