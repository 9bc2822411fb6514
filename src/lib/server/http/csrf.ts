// Kit's built-in origin check is off (svelte.config.js) so customers' own sites can post forms to
// /s/...; this restores it for everything else, including the app's own form actions.
import type { Handle } from '@sveltejs/kit';

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

export const handleCsrf: Handle = async ({ event, resolve }) => {
  const { request, url } = event;
  if (UNSAFE.has(request.method) && !url.pathname.startsWith('/s/')) {
    const type = (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
    const origin = request.headers.get('origin');
    if (FORM_TYPES.includes(type) && origin !== url.origin) {
      return new Response(JSON.stringify({ error: { code: 'forbidden', message: `Cross-site ${request.method} form submissions are forbidden.` } }), {
        status: 403,
        headers: { 'content-type': 'application/json' },
      });
    }
  }
  return resolve(event);
};
