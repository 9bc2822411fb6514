// One delivery attempt of an effect, whatever its kind: claim the row, act, record the attempt and
// decide what comes next (delivered, a retry at the schedule's next delay, or failed for good).
import { ZodError } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import type { EffectKind } from '../../schemas/vocabulary.ts';
import { EXCERPT_CHARS, type WebhookAttempt } from './deliver-webhook.ts';
import { deliverOnce } from './deliverers.ts';
import { timerAdmission, type Wait } from './fire-timer.ts';
import { enqueueEffect } from './enqueue-effect.ts';
import { firstAttemptAt, specOf } from './kinds/index.ts';
import { planNextStep, retrySchedule } from './retry-schedule.ts';
import { CircuitBreaker, destinationFailed } from './circuit-breaker.ts';

// A job may run a little before the row says (clocks of different machines); not more.
const EARLY_TOLERANCE_MS = 1_000;

type EffectRow = { id: string; teamId: string; streamId: string; kind: EffectKind; payload: unknown; attempts: number; createdAt: Date; team: { signingSecret: string } };

export type DeliverEffectOptions = { streamId: string; effectId: string; db?: Db };
export type DeliverEffectResult =
  | { outcome: 'missing' | 'not_due' | 'busy' }
  | { outcome: 'paused'; until: Date }
  | { outcome: 'skipped'; status: string }
  | { outcome: 'delivered' | 'failed' | 'pending'; attempts: number; nextAttemptAt?: Date };

/**
 * Runs the attempt an effect is due for. Idempotent: a delivered, failed or suppressed effect is
 * left alone, and a conditional claim (a lease on `nextAttemptAt`) lets only one worker attempt at
 * a time. A worker dying mid-attempt leaves the lease to expire; the sweep then retries.
 */
export async function deliverEffect({ streamId, effectId, db = defaultDb() }: DeliverEffectOptions): Promise<DeliverEffectResult> {
  // Every statement by the effect's key (streamId, id): one shard, and the attempt's transaction one node.
  const key = { streamId_id: { streamId, id: effectId } };
  const effect = await db.effect.findUnique({ where: key, include: { team: { select: { signingSecret: true } } } });
  if (!effect) return { outcome: 'missing' };
  if (effect.status !== 'pending') return { outcome: 'skipped', status: effect.status };

  const now = Date.now();
  if (effect.attempts === 0) {
    // The first attempt is due when the kind says (a timer: its dueAt); a row stored earlier is corrected.
    const due = safeDueAt(effect);
    if (due && due.getTime() > effect.nextAttemptAt.getTime() + EARLY_TOLERANCE_MS) {
      const moved = await db.effect.updateMany({ where: { streamId, id: effectId, status: 'pending', attempts: 0 }, data: { nextAttemptAt: due } });
      if (moved.count === 1) await enqueueEffect({ ...effect, nextAttemptAt: due });
      return { outcome: 'not_due' };
    }
  }
  if (effect.nextAttemptAt.getTime() > now + EARLY_TOLERANCE_MS) return { outcome: 'not_due' };

  // A destination that keeps failing is paused: the attempt waits, uncounted, until the circuit lets
  // a probe through. So does a timer over its team's append rate (its event counts like any append).
  const destination = destinationOf(effect);
  const pausedUntil = destination ? breaker().pausedUntil(destination) : null;
  const wait: Wait | null = pausedUntil
    ? { until: new Date(pausedUntil), reason: `Paused: ${destination} failed ${breaker().failuresOf(destination!)} times in a row; the next attempt waits until ${new Date(pausedUntil).toISOString()}.` }
    : effect.kind === 'timer' ? await timerAdmission({ teamId: effect.teamId, db }) : null;
  if (wait) {
    const moved = await db.effect.updateMany({
      where: { streamId, id: effectId, status: 'pending', attempts: effect.attempts, nextAttemptAt: { lte: new Date(now + EARLY_TOLERANCE_MS) } },
      data: { nextAttemptAt: wait.until, lastError: wait.reason },
    });
    if (moved.count === 1) await enqueueEffect({ ...effect, nextAttemptAt: wait.until });
    return { outcome: 'paused', until: wait.until };
  }

  const lease = new Date(now + env().WEBHOOK_TIMEOUT_MS + 60_000);
  const claimed = await db.effect.updateMany({
    where: { streamId, id: effectId, status: 'pending', attempts: effect.attempts, nextAttemptAt: { lte: new Date(now + EARLY_TOLERANCE_MS) } },
    data: { nextAttemptAt: lease },
  });
  if (claimed.count === 0) return { outcome: 'busy' };

  const startedAt = new Date();
  const attempt = await attemptEffect(effect, db);
  const durationMs = Date.now() - startedAt.getTime();
  if (destination) breaker().record(destination, !destinationFailed(attempt));
  const attempts = effect.attempts + 1;
  const step = planNextStep({ attempts, result: attempt.result, schedule: retrySchedule(), now: new Date() });
  const error = attempt.error?.slice(0, 2000);
  await db.$transaction([
    db.effectAttempt.create({
      data: { streamId, effectId, startedAt, durationMs, statusCode: attempt.statusCode ?? null, error: error ?? null, responseExcerpt: attempt.responseExcerpt?.slice(0, EXCERPT_CHARS) ?? null },
    }),
    db.effect.update({
      where: key,
      data: {
        attempts,
        status: step.status,
        lastError: step.status === 'delivered' ? null : (error ?? 'Failed.'),
        deliveredAt: step.status === 'delivered' ? new Date() : undefined,
        nextAttemptAt: step.status === 'pending' ? step.nextAttemptAt : undefined,
      },
    }),
  ]);
  if (step.status === 'pending') {
    await enqueueEffect({ id: effectId, teamId: effect.teamId, streamId, kind: effect.kind, nextAttemptAt: step.nextAttemptAt, attempts });
    return { outcome: 'pending', attempts, nextAttemptAt: step.nextAttemptAt };
  }
  return { outcome: step.status, attempts };
}

/**
 * The stream of an effect whose job was queued before jobs carried it: looked up once by team,
 * which reads every shard on Citus. Only such old jobs come here; null when the effect is gone.
 */
export async function resolveStreamId({ effectId, teamId, db = defaultDb() }: { effectId: string; teamId: string; db?: Db }): Promise<string | null> {
  const effect = await db.effect.findFirst({ where: { id: effectId, teamId }, select: { streamId: true } });
  return effect?.streamId ?? null;
}

let circuits: CircuitBreaker | undefined;
function breaker(): CircuitBreaker {
  const e = env();
  circuits ??= new CircuitBreaker({ failures: e.CIRCUIT_BREAKER_FAILURES, openMs: e.CIRCUIT_BREAKER_OPEN_MS, maxOpenMs: 10 * 60_000 });
  return circuits;
}

function destinationOf(effect: Pick<EffectRow, 'kind' | 'payload'>): string | null {
  const spec = specOf(effect.kind);
  const parsed = spec.destination ? spec.payload.safeParse(effect.payload) : null;
  return parsed?.success ? spec.destination!(parsed.data as never) : null;
}

function safeDueAt(effect: Pick<EffectRow, 'kind' | 'payload' | 'createdAt'>): Date | null {
  const parsed = specOf(effect.kind).payload.safeParse(effect.payload);
  return parsed.success ? firstAttemptAt(effect.kind, parsed.data, effect.createdAt) : null;
}

/** Performs the effect once. Never throws: bad payloads are permanent failures, IO errors retryable. */
async function attemptEffect(effect: EffectRow, db: Db): Promise<WebhookAttempt> {
  try {
    const payload = specOf(effect.kind).payload.parse(effect.payload);
    return await deliverOnce(effect.kind, { effect, payload: payload as never, secret: effect.team.signingSecret, db });
  } catch (error) {
    if (error instanceof ZodError) {
      return { result: 'permanent', error: `Invalid ${effect.kind} payload: ${error.issues.map((i) => `${i.path.join('.') || 'payload'}: ${i.message}`).join('; ')}` };
    }
    if (error instanceof AppError && error.code !== 'unavailable' && error.code !== 'internal') return { result: 'permanent', error: error.message };
    const smtpCode = (error as { responseCode?: number }).responseCode;
    return { result: 'retryable', statusCode: typeof smtpCode === 'number' ? smtpCode : undefined, error: (error as Error).message ?? String(error) };
  }
}
