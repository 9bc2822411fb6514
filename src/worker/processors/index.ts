// The worker's half of the job catalog: a processor and its slots for every queue in
// lib/server/queue/catalog.ts (a queue without one is a type error). Processors are thin: they get
// a payload already validated against the queue's schema and call lib/server. Where a team could
// crowd others out (folds, deliveries), a job beyond its team's share (queue/team-slots.ts) steps
// back into the queue for a moment instead of taking one of the slots kept for other teams.
import { DelayedError, UnrecoverableError, type Job, type Processor } from 'bullmq';
import { env, type Env } from '../../lib/server/env.ts';
import { QUEUES, type JobPayload, type QueueName } from '../../lib/server/queue/catalog.ts';
import { TeamSlots } from '../../lib/server/queue/team-slots.ts';
import { accountOf } from '../../lib/server/teams/account-of.ts';
import { foldProcessor } from './fold.ts';
import { deliverProcessor } from './deliver.ts';
import { runReplayPreview } from '../../lib/server/reducers/preview-replay.ts';

type Slots = { concurrency: number; perTeam?: number };
type Handler<Q extends QueueName> = { slots(e: Env): Slots; run(payload: JobPayload<Q>, job: Job): Promise<unknown> };

export const handlers = {
  fold: { slots: (e) => ({ concurrency: e.FOLD_CONCURRENCY, perTeam: e.FOLD_CONCURRENCY_PER_TEAM }), run: foldProcessor },
  deliver: { slots: (e) => ({ concurrency: e.DELIVER_CONCURRENCY, perTeam: e.DELIVER_CONCURRENCY_PER_TEAM }), run: deliverProcessor },
  timers: { slots: () => ({ concurrency: 4 }), run: deliverProcessor },
  preview: { slots: () => ({ concurrency: 2, perTeam: 1 }), run: ({ streamId, previewId }) => runReplayPreview({ streamId, previewId }) },
} satisfies { [Q in QueueName]: Handler<Q> };

/** How long a job over its team's share waits before it asks again (jittered). */
const STEP_BACK_MS = 200;

/**
 * The BullMQ processor of a queue: a payload that fails its schema fails for good, never retried.
 * One processor serves every shard of the queue this process consumes, so the team shares count
 * over all of them; `slots` is their workers' concurrency together.
 */
export function processorFor<Q extends QueueName>(name: Q, slots?: number): Processor {
  const handler = handlers[name] as Handler<Q>;
  const { perTeam, concurrency } = handler.slots(env());
  const shares = perTeam ? new TeamSlots(perTeam, slots ?? concurrency) : null;
  return async (job, token) => {
    const parsed = QUEUES[name].payload.safeParse(job.data);
    if (!parsed.success) throw new UnrecoverableError(`Malformed ${name} job: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}`);
    const payload = parsed.data as JobPayload<Q>;
    // Shares go per account (the team's owner), so spreading work over many teams earns no more of them.
    const release = shares ? shares.tryAcquire(await accountOf(payload.teamId)) : () => {};
    if (!release) {
      await job.moveToDelayed(Date.now() + STEP_BACK_MS + Math.floor(Math.random() * STEP_BACK_MS), token);
      throw new DelayedError();
    }
    try {
      return await handler.run(payload, job);
    } finally {
      release();
    }
  };
}
