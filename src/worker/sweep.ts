// The periodic sweep: housekeeping plus re-enqueueing whatever PostgreSQL says is behind.
import { sweepIdempotency } from '../lib/server/streams/sweep-idempotency.ts';
import { sweepEffects } from '../lib/server/effects/sweep-effects.ts';

export async function runSweep(): Promise<void> {
  await sweepIdempotency();
  await sweepEffects();
}
