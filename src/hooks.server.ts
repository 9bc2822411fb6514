import { sequence } from '@sveltejs/kit/hooks';
import type { Handle } from '@sveltejs/kit';
import { handleCsrf } from '$lib/server/http/csrf.ts';

const handleSession: Handle = async ({ event, resolve }) => {
  event.locals.user = null;
  event.locals.session = null;
  return resolve(event);
};

export const handle = sequence(handleCsrf, handleSession);
