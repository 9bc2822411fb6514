// The management API called from the app's own load functions and form actions: the same
// procedures, context and authorization as /api/trpc, without the HTTP hop.
import type { RequestEvent } from '@sveltejs/kit';
import { createContext } from './context.ts';
import { createCaller } from './root.ts';

export async function serverCaller(event: Pick<RequestEvent, 'locals' | 'url' | 'getClientAddress'>) {
  return createCaller(await createContext({ user: event.locals.user, session: event.locals.session, clientAddress: event.getClientAddress(), origin: event.url.origin }));
}
