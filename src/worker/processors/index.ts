// The worker's half of the job catalog: a processor and a concurrency for every queue in
// lib/server/queue/catalog.ts (a queue without one is a type error). Processors are thin: they get
// a payload already validated against the queue's schema and call lib/server.
import { UnrecoverableError, type Job, type Processor } from 'bullmq';
import { QUEUES, type JobPayload, type QueueName } from '../../lib/server/queue/catalog.ts';
import { foldProcessor } from './fold.ts';
import { deliverProcessor } from './deliver.ts';

type Handler<Q extends QueueName> = { concurrency: number; run(payload: JobPayload<Q>, job: Job): Promise<unknown> };

export const handlers = {
  fold: { concurrency: 4, run: foldProcessor },
  deliver: { concurrency: 16, run: deliverProcessor },
  timers: { concurrency: 4, run: deliverProcessor },
} satisfies { [Q in QueueName]: Handler<Q> };

/** The BullMQ processor of a queue: a payload that fails its schema fails for good, never retried. */
export function processorFor<Q extends QueueName>(name: Q): Processor {
  const handler = handlers[name] as Handler<Q>;
  return async (job) => {
    const parsed = QUEUES[name].payload.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`Malformed ${name} job: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    return handler.run(parsed.data as JobPayload<Q>, job);
  };
}
