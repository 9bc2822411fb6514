// Kit's built-in origin check is off (svelte.config.js) so customers' own sites can post forms to
// /s/... (and analytics.js its text/plain bodies to /v1/...); this restores it for everything else,
// including the app's own form actions.
import type { Handle } from '@sveltejs/kit';
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
