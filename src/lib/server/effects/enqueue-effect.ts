// Effects become jobs on their kind's queue (webhooks, emails and Slack messages on `deliver`,
// timers on `timers`), delayed until their attempt is due. Rows come first (the fold's
// transaction); jobs are best effort and the sweep re-creates any lost.
import { enqueue, queueFor } from '../queue/enqueue.ts';
import type { EffectKind } from '../../schemas/vocabulary.ts';
import { specOf } from './kinds/index.ts';

/** What enqueueing needs of an Effect row: when its next attempt is due (default now), and which attempt it is. */
export type EnqueueableEffect = { id: string; teamId: string; streamId: string; kind: EffectKind; nextAttemptAt?: Date; attempts?: number };

/**
 * The job id of an effect's next attempt. It names the attempt, so a retry scheduled while the
 * previous attempt's job is still active is not de-duplicated away, and the sweep re-enqueueing
 * the same attempt adds nothing. (BullMQ forbids `:` in custom ids.)
 */
export function effectJobId({ id, kind, attempts = 0 }: Pick<EnqueueableEffect, 'id' | 'kind' | 'attempts'>): string {
  return `${specOf(kind).queue}-${id.replaceAll(':', '_')}-${attempts}`;
}

/** Enqueues an effect's next attempt, delayed until it is due. Best effort: false when Redis is away. */
export async function enqueueEffect(effect: EnqueueableEffect): Promise<boolean> {
  const queue = specOf(effect.kind).queue;
  if (queue === 'none') return true;
  const delay = Math.max(0, (effect.nextAttemptAt?.getTime() ?? Date.now()) - Date.now());
  return enqueue(queue, effectJobId(effect), { effectId: effect.id, teamId: effect.teamId, streamId: effect.streamId }, delay);
}

export async function enqueueEffects(effects: EnqueueableEffect[]): Promise<void> {
  for (let i = 0; i < effects.length; i += 100) await Promise.all(effects.slice(i, i + 100).map(enqueueEffect));
}

/**
 * Like enqueueEffect, but first clears a job of the same id that BullMQ gave up on (a worker that
 * crashed or lost PostgreSQL three times), which would otherwise block the id forever.
 */
export async function reEnqueueEffect(effect: EnqueueableEffect): Promise<boolean> {
  const name = specOf(effect.kind).queue;
  if (name === 'none') return true;
  try {
    const existing = await queueFor(name, { effectId: effect.id, teamId: effect.teamId, streamId: effect.streamId }).getJob(effectJobId(effect));
    if (existing && (await existing.isFailed())) await existing.remove();
  } catch {
    return false;
  }
  return enqueueEffect(effect);
}
