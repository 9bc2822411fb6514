// The management API: one router per domain.
import { createCallerFactory, router } from './init.ts';
import { streamRouter } from './routers/stream.ts';

export const appRouter = router({
  stream: streamRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
