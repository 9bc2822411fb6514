// Kit's built-in origin check is off (svelte.config.js) so customers' own sites can post forms to
// /s/... (and analytics.js its text/plain bodies to /v1/...); this restores it for everything else,
// including the app's own form actions.
import type { Handle, RequestEvent } from '@sveltejs/kit';
import { AppError } from '../errors.ts';
import { mediaType } from './parse-append-body.ts';
import { errorResponse } from './respond.ts';

/** The public APIs: keys or signatures are their credentials, never the session cookie alone for a write from another site. */
export const isPublicApi = (path: string): boolean => path.startsWith('/s/') || path.startsWith('/v1/');

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

export const handleCsrf: Handle = async ({ event, resolve }) => {
  const { request, url } = event;
  if (UNSAFE.has(request.method) && !isPublicApi(url.pathname)) {
    if (FORM_TYPES.includes(mediaType(request)) && request.headers.get('origin') !== url.origin) {
      return errorResponse(new AppError('forbidden', `Cross-site ${request.method} form submissions are forbidden.`));
    }
  }
  return resolve(event);
};

const SAME_ORIGIN_ONLY =
  'Writes signed in with the session cookie must come from this site’s own pages (a same-origin `Origin` header); from anywhere else, send an API key: `Authorization: Bearer <key>`.';

export type StreamSession = {
  /** The signed-in user this /s/ request may act as. */
  userId: string | null;
  /** Rethrows an authorization failure, as a 403 that says why when the cookie was set aside. */
  explain(error: unknown): never;
};

/**
 * The session cookie on /s/: a write (POST, DELETE) acts as the signed-in user only when it comes
 * from the app's own origin. Browsers send the cookie with same-site requests too (a form on
 * another subdomain or port), which SameSite=Lax does not stop; from any other origin the cookie
 * is set aside, so keys, signatures and public streams answer as they would without it, and a
 * private stream is refused with 403.
 */
export function streamSession(event: Pick<RequestEvent, 'request' | 'url' | 'locals'>): StreamSession {
  const { request, url } = event;
  const userId = event.locals.user?.id ?? null;
  // With a key the cookie plays no part (the key is the credential).
  const keyed = request.headers.has('authorization') || url.searchParams.has('key');
  const setAside = userId !== null && !keyed && UNSAFE.has(request.method) && request.headers.get('origin') !== url.origin;
  return {
    userId: setAside ? null : userId,
    explain(error) {
      if (setAside && error instanceof AppError && error.code === 'unauthorized') throw new AppError('forbidden', SAME_ORIGIN_ONLY);
      throw error;
    },
  };
}
