import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import type { RequestHandler } from './$types';
import { appRouter } from '$lib/server/trpc/root.ts';
import { createContext } from '$lib/server/trpc/context.ts';
import { TRPC_MAX_BATCH_SIZE } from '$lib/schemas/vocabulary.ts';

const handler: RequestHandler = (event) =>
  fetchRequestHandler({
    endpoint: '/api/trpc',
    req: event.request,
    router: appRouter,
    // Each call costs a context and queries; an unbounded batch is a cheap way to make one request expensive.
    maxBatchSize: TRPC_MAX_BATCH_SIZE,
    createContext: () =>
      createContext({ user: event.locals.user, session: event.locals.session, authorization: event.request.headers.get('authorization'), clientAddress: event.getClientAddress(), origin: event.url.origin }),
  });

export const GET = handler;
export const POST = handler;
