// The delivery retry schedule and what happens after each attempt: pure, so it is table-tested.
import { env } from '../env.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "0,5s,5m,2h" → [0, 5000, 300000, 7200000]. A bare number is milliseconds. */
export function parseRetrySchedule(text: string): number[] {
  const delays = text.split(',').map((part) => {
    const m = /^\s*(\d+)(ms|s|m|h|d)?\s*$/.exec(part);
    if (!m) throw new Error(`Bad retry delay \`${part.trim()}\`: use a number with ms, s, m, h or d.`);
    return Number(m[1]) * UNIT_MS[m[2] ?? 'ms'];
  });
  if (delays.length === 0) throw new Error('The retry schedule needs at least one attempt.');
  return delays;
}

/** The configured schedule (RETRY_SCHEDULE): entry k is the delay before attempt k + 1. */
export function retrySchedule(): number[] {
  return parseRetrySchedule(env().RETRY_SCHEDULE);
}

export type AttemptResult = 'delivered' | 'retryable' | 'permanent';

export type NextStep =
  | { status: 'delivered' }
  | { status: 'failed' }
  | { status: 'pending'; nextAttemptAt: Date };

/**
 * After attempt number `attempts` (1-based, the one just made): delivered, failed for good, or
 * pending again at the schedule's next delay. A failure after the last scheduled attempt — also
 * after a by-hand retry of a failed effect — is final.
 */
export function planNextStep({ attempts, result, schedule, now }: { attempts: number; result: AttemptResult; schedule: number[]; now: Date }): NextStep {
  if (result === 'delivered') return { status: 'delivered' };
  if (result === 'permanent' || attempts >= schedule.length) return { status: 'failed' };
  return { status: 'pending', nextAttemptAt: new Date(now.getTime() + schedule[attempts]) };
}
