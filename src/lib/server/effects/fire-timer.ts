// A due `schedule()` appends its event to the reducer's stream through the one append path, with the
// effect id as idempotency key: a timer whose attempt runs twice appends once. Its event counts
// against the team's append rate like any append, so a fan-out of timers is throttled, not multiplied.
import type { Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { spendTeamAppend } from '../rate-limit.ts';
import { appendEvents } from '../streams/append-events.ts';
import type { TimerPayload } from './kinds/timer.ts';
import type { WebhookAttempt } from './deliver-webhook.ts';

export async function fireTimer({ effectId, streamId, payload, db }: { effectId: string; streamId: string; payload: TimerPayload; db: Db }): Promise<WebhookAttempt> {
  // A system stream (the team's audit log) is written by Pipet alone: a reducer reading it may not
  // forge entries through its own timers.
  const stream = await db.stream.findUnique({ where: { id: streamId }, select: { system: true } });
  if (stream?.system) return { result: 'permanent', error: 'Timers cannot append to a system stream (the audit log is written by Pipet alone); schedule nothing from a reducer on it.' };
  const appended = await appendEvents({ streamId, bodies: [payload.event], idempotency: { key: effectId, scope: 'timer' }, db });
  return { result: 'delivered', responseExcerpt: `Appended as element ${appended.first}${appended.replayed ? ' (by an earlier run of this timer)' : ''}.` };
}

/** An attempt that must wait for a limit: when to try again, and why (shown as the effect's last error). */
export type Wait = { until: Date; reason: string };

/**
 * Spends one append of the team's (and its account's) per-minute rate limit before a timer fires.
 * Over the limit, the time to try again: the attempt then waits uncounted, so a timer is delayed,
 * never dropped, by the limit.
 */
export async function timerAdmission({ teamId, db }: { teamId: string; db: Db }): Promise<Wait | null> {
  const team = await db.team.findUnique({ where: { id: teamId }, select: { id: true, rateLimitPerMinute: true, accountId: true, account: { select: { rateLimitPerMinute: true } } } });
  if (!team) return null;
  try {
    await spendTeamAppend({ id: team.id, rateLimitPerMinute: team.rateLimitPerMinute, accountId: team.accountId, accountRateLimitPerMinute: team.account?.rateLimitPerMinute ?? null });
    return null;
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== 'rate_limited') throw error;
    const until = new Date(Date.now() + (error.retryAfter ?? 1) * 1000);
    return { until, reason: `Waiting for the team's append rate: ${error.message} A timer's event counts like any append; this one fires at ${until.toISOString()} or later.` };
  }
}
