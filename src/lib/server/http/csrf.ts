// Kit's built-in origin check is off (svelte.config.js) so customers' own sites can post forms to
// /s/...; this restores it for everything else, including the app's own form actions.
import type { Handle } from '@sveltejs/kit';
import { AppError } from '../errors.ts';
import { mediaType } from './parse-append-body.ts';
import { errorResponse } from './respond.ts';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

export const handleCsrf: Handle = async ({ event, resolve }) => {
  const { request, url } = event;
  if (UNSAFE.has(request.method) && !url.pathname.startsWith('/s/')) {
    if (FORM_TYPES.includes(mediaType(request)) && request.headers.get('origin') !== url.origin) {
      return errorResponse(new AppError('forbidden', `Cross-site ${request.method} form submissions are forbidden.`));
    }
  }
  return resolve(event);
};
