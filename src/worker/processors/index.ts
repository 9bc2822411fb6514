// Which processor serves which queue. Processors are thin: parse the payload, call lib/server.
import type { Processor } from 'bullmq';
import type { QueueName } from '../../lib/server/queue/catalog.ts';
import { foldProcessor } from './fold.ts';
import { deliverProcessor } from './deliver.ts';
import { timersProcessor } from './timers.ts';

export const processors: Partial<Record<QueueName, { processor: Processor; concurrency: number }>> = {
  fold: { processor: foldProcessor, concurrency: 4 },
  deliver: { processor: deliverProcessor, concurrency: 16 },
  timers: { processor: timersProcessor, concurrency: 4 },
};
