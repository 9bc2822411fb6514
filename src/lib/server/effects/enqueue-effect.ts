// Effects become jobs: webhooks and emails on `deliver`, timers on `timers` delayed until due.
// Rows come first (the fold's transaction); jobs are best effort and the sweep re-creates any lost.
import { enqueue, queue } from '../queue/enqueue.ts';

/**
 * What enqueueing needs of an Effect row. `nextAttemptAt` defaults to now; a timer's `payload.dueAt`
 * (when given) is honoured too, so the fold can pass its stored effects as they are.
 */
export type EnqueueableEffect = { id: string; kind: 'webhook' | 'email' | 'timer' | string; nextAttemptAt?: Date | string; attempts?: number; payload?: unknown };

function dueTime({ kind, nextAttemptAt, payload }: EnqueueableEffect): number {
  const next = nextAttemptAt === undefined ? Date.now() : new Date(nextAttemptAt).getTime();
  const dueAt = kind === 'timer' ? Date.parse((payload as { dueAt?: string } | null | undefined)?.dueAt ?? '') : NaN;
  return Number.isFinite(dueAt) ? Math.max(next, dueAt) : next;
}

function queueFor(kind: string): 'deliver' | 'timers' {
  return kind === 'timer' ? 'timers' : 'deliver';
}

/**
 * The job id of an effect's next attempt. It names the attempt, so a retry scheduled while the
 * previous attempt's job is still active is not de-duplicated away, and the sweep re-enqueueing
 * the same attempt adds nothing. (BullMQ forbids `:` in custom ids.)
 */
export function effectJobId({ id, kind, attempts = 0 }: Pick<EnqueueableEffect, 'id' | 'kind' | 'attempts'>): string {
  return `${kind === 'timer' ? 'timer' : 'deliver'}-${id.replaceAll(':', '_')}-${attempts}`;
}

/** Enqueues an effect's next attempt, delayed until it is due. Best effort: false when Redis is away. */
export async function enqueueEffect(effect: EnqueueableEffect): Promise<boolean> {
  const delay = Math.max(0, dueTime(effect) - Date.now());
  return enqueue(queueFor(effect.kind), effectJobId(effect), { effectId: effect.id }, delay);
}

export async function enqueueEffects(effects: EnqueueableEffect[]): Promise<void> {
  for (let i = 0; i < effects.length; i += 100) await Promise.all(effects.slice(i, i + 100).map(enqueueEffect));
}

/**
 * Like enqueueEffect, but first clears a job of the same id that BullMQ gave up on (a worker that
 * crashed or lost PostgreSQL three times), which would otherwise block the id forever.
 */
export async function reEnqueueEffect(effect: EnqueueableEffect): Promise<boolean> {
  try {
    const existing = await queue(queueFor(effect.kind)).getJob(effectJobId(effect));
    if (existing && (await existing.isFailed())) await existing.remove();
  } catch {
    return false;
  }
  return enqueueEffect(effect);
}
