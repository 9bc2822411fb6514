// Load functions call the management API in-process; a NOT_FOUND from it means "no such page".
import { TRPCError } from '@trpc/server';

/** The promise's value, or `missing()` when the API answered NOT_FOUND (other errors pass through). */
export async function ifFound<T, M>(promise: Promise<T>, missing: (error: TRPCError) => M): Promise<T | M> {
  try {
    return await promise;
  } catch (e) {
    if (e instanceof TRPCError && e.code === 'NOT_FOUND') return missing(e);
    throw e;
  }
}
