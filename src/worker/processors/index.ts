// Which processor serves which queue. Processors are thin: parse the payload, call lib/server.
import type { Processor } from 'bullmq';
import type { QueueName } from '../../lib/server/queue/catalog.ts';

export const processors: Partial<Record<QueueName, { processor: Processor; concurrency: number }>> = {};
