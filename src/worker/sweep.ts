// The periodic sweep: housekeeping plus re-enqueueing whatever PostgreSQL says is behind.
import { sweepIdempotency } from '../lib/server/streams/sweep-idempotency.ts';

export async function runSweep(): Promise<void> {
  await sweepIdempotency();
}
