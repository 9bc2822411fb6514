// The periodic sweep: housekeeping plus re-enqueueing whatever PostgreSQL says is behind.
import { sweepIdempotency } from '../lib/server/streams/sweep-idempotency.ts';
import { sweepFolds } from '../lib/server/reducers/sweep-folds.ts';
import { sweepEffects } from '../lib/server/effects/sweep-effects.ts';

export async function runSweep(): Promise<void> {
  await sweepFolds();
  await sweepIdempotency();
  await sweepEffects();
}
