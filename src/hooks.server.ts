import cluster from 'node:cluster';
import { sequence } from '@sveltejs/kit/hooks';
import { building, dev } from '$app/environment';
import type { Handle, ServerInit } from '@sveltejs/kit';
import { handleCsrf } from '$lib/server/http/csrf.ts';
import { handleInputChecks } from '$lib/server/http/check-input.ts';
import { handleSecurityHeaders } from '$lib/server/http/security-headers.ts';
import { withHeaders } from '$lib/server/http/respond.ts';
import { endLiveResponses, exitOnSignal, isDraining } from '$lib/server/lifecycle.ts';
import { closeAll } from '$lib/server/shutdown.ts';
import { handlePublicApiErrors } from '$lib/server/http/public-errors.ts';
import { deleteSessionCookie, SESSION_COOKIE, sessionDetails, setSessionCookie, validateSessionToken } from '$lib/server/auth/sessions.ts';

/**
 * The session cookie, validated once per request into locals; renewed or cleared as needed. A
 * session that still owes the second factor signs nobody in: `locals.user` stays null (so every
 * page, procedure and stream refuses it) and only `locals.twoFactorPending` says who it is.
 */
const handleSession: Handle = async ({ event, resolve }) => {
  event.locals.user = null;
  event.locals.session = null;
  event.locals.twoFactorPending = null;
  const token = event.cookies.get(SESSION_COOKIE);
  if (token) {
    // With PostgreSQL unreachable, carry on signed out (keeping the cookie): routes answer 503 themselves.
    const result = await validateSessionToken(token, undefined, sessionDetails(event)).catch(() => null);
    if (result?.session) {
      // Re-set on every request so the browser's expiry follows the sliding one.
      setSessionCookie(event.cookies, token, result.session.expiresAt);
      const { id, expiresAt, twoFactorVerified } = result.session;
      event.locals.session = { id, expiresAt, twoFactorVerified };
      if (result.user.twoFactor && !twoFactorVerified) event.locals.twoFactorPending = { id: result.user.id, email: result.user.email };
      else event.locals.user = result.user;
    } else if (result) {
      deleteSessionCookie(event.cookies);
    }
  }
  return resolve(event);
};

/**
 * While shutting down, every answer closes its connection: a keep-alive client sending request
 * after request would otherwise stay on this process until the bound, instead of reconnecting to
 * one that keeps serving.
 */
const handleDraining: Handle = async ({ event, resolve }) => {
  const response = await resolve(event);
  return isDraining() ? withHeaders(response, { connection: 'close' }) : response;
};

export const handle = sequence(handleDraining, handleSecurityHeaders, handlePublicApiErrors, handleCsrf, handleInputChecks, handleSession);

/** Before the first request: open the Redis connection, so the first requests' rate limits and wake-ups find it up. */
export const init: ServerInit = async () => {
  const { redis } = await import('$lib/server/redis.ts');
  redis();
};

/**
 * A web process's shutdown, in the order of issue 14: adapter-node stops accepting connections on
 * SIGTERM/SIGINT; live responses (SSE, long-polls) end here with a retry hint; requests in flight,
 * appends among them, finish, after which adapter-node emits `sveltekit:shutdown`; then the pools
 * close and the process exits. Whatever is still open at SHUTDOWN_TIMEOUT_MS is cut.
 */
function handleShutdown(log: (line: string) => void = console.log): void {
  const closed = new Promise<void>((resolve) => process.once('sveltekit:shutdown' as 'beforeExit', () => resolve()));
  exitOnSignal(
    async (reason) => {
      const ended = endLiveResponses();
      log(`[web ${process.pid}] ${reason}: no new connections; ended ${ended} live stream(s) and long-poll(s); finishing requests in flight.`);
      await closed;
      await closeAll();
    },
    {
      log,
      // The cluster primary rolls its web processes on SIGHUP; a lone web process has nothing to roll.
      onHangup: () => cluster.isWorker || log(`[web ${process.pid}] SIGHUP ignored: rolling restarts need WEB_PROCESSES of 2 or more.`),
    },
  );
}

// The built server only (`vite dev` stops itself), and once per process.
const installed = Symbol.for('pipet.shutdown');
if (!dev && !building && !(globalThis as Record<symbol, unknown>)[installed]) {
  (globalThis as Record<symbol, unknown>)[installed] = true;
  handleShutdown();
}
