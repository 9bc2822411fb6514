// After a fold commits, its pending effects are handed to their queues. Best effort: the rows are
// already stored, and the sweep enqueues whatever this misses.
import { enqueueEffects } from '../effects/enqueue-effect.ts';

export async function afterEffectsCommitted(effects: { id: string; kind: string; payload: unknown }[]): Promise<void> {
  await enqueueEffects(
    effects.map((e) => ({
      id: e.id,
      kind: e.kind,
      nextAttemptAt: e.kind === 'timer' ? (e.payload as { dueAt: string }).dueAt : new Date(),
    })),
  );
}
