// `pipet.manage`: the management API (tRPC at /api/trpc), typed by the server's router. Only its
// type is imported, so no server code is in the client's bundle.
import { createTRPCClient, httpBatchLink, type TRPCClient } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../lib/server/trpc/root.ts';

export type { AppRouter };
export type PipetManage = TRPCClient<AppRouter>;

/**
 * The server refuses a batch of more calls than this (TRPC_MAX_BATCH_SIZE in
 * src/lib/schemas/vocabulary.ts, not imported here to keep zod out of the bundle): the link splits
 * bigger batches, so 25 calls in one tick are two requests, not a 400.
 */
export const MANAGE_MAX_BATCH = 20;

export function createManage({ url, key, fetch: fetchImpl, headers }: { url: string; key?: string; fetch?: typeof fetch; headers?: Record<string, string> }): PipetManage {
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${url.replace(/\/+$/, '')}/api/trpc`,
        transformer: superjson,
        maxItems: MANAGE_MAX_BATCH,
        fetch: fetchImpl,
        headers: () => ({ ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) }),
      }),
    ],
  });
}
