// `fold` jobs: one per stream at a time. The job keeps its de-duplication key while it folds, so
// appends meanwhile add no second job to race it; it releases the key only at the end, then checks
// whether anything arrived since (an append after the release queues its own job).
import type { Job } from 'bullmq';
import type { JobPayload } from '../../lib/server/queue/catalog.ts';
import { wakeFold } from '../../lib/server/queue/enqueue.ts';
import { foldStream, streamBehind } from '../../lib/server/reducers/fold-stream.ts';

export async function foldProcessor({ streamId, teamId }: JobPayload<'fold'>, job: Job): Promise<{ folded: number }> {
  const { folded, more } = await foldStream({ streamId });
  await job.removeDeduplicationKey().catch(() => {});
  if (more || (await streamBehind(streamId))) await wakeFold({ streamId, teamId });
  return { folded };
}
