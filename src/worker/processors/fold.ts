import type { Job } from 'bullmq';
import type { JobPayload } from '../../lib/server/queue/catalog.ts';
import { wakeFold } from '../../lib/server/queue/enqueue.ts';
import { foldStream } from '../../lib/server/reducers/fold-stream.ts';

export async function foldProcessor({ streamId, teamId }: JobPayload<'fold'>, job: Job): Promise<{ folded: number }> {
  // Release the stream's de-duplication key first: an append landing from now on queues a
  // follow-up fold instead of being absorbed by this one.
  await job.removeDeduplicationKey().catch(() => {});
  const { folded, more } = await foldStream({ streamId });
  if (more) await wakeFold({ streamId, teamId });
  return { folded };
}
