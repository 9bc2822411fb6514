import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { RequestHandler } from './$types';
import { appRouter } from '$lib/server/trpc/root.ts';
import { createContext } from '$lib/server/trpc/context.ts';

const handler: RequestHandler = (event) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req: event.request,
    router: appRouter,
    createContext: () =>
      createContext({ user: event.locals.user, authorization: event.request.headers.get('authorization'), clientAddress: event.getClientAddress(), origin: event.url.origin }),
  });

export const GET = handler;
export const POST = handler;
