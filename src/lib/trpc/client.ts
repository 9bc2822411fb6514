// The browser's (and scripts') tRPC client. Imports only the router's type.
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '$lib/server/trpc/root.ts';
import { TRPC_MAX_BATCH_SIZE } from '$lib/schemas/vocabulary.ts';

export function trpc(fetchImpl: typeof fetch = fetch, url = '/api/trpc') {
  return createTRPCClient<AppRouter>({ links: [httpBatchLink({ url, fetch: fetchImpl, transformer: superjson, maxItems: TRPC_MAX_BATCH_SIZE })] });
}
