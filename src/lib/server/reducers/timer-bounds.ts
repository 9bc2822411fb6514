// The bounds on pending timers (schedule()): at most TIMERS_PENDING_PER_REDUCER per reducer and
// TIMERS_PENDING_PER_TEAM per team wait to fire. A batch that would cross one stops its reducer at
// the event whose schedule() crosses it, like the other reducer limits; after timers fire (or
// keyed ones are cancelled) "resume" retries that event.
import { sql } from '../db/client.ts';
import { env } from '../env.ts';
import type { FoldError, RecordedEffect } from './sandbox/index.ts';

/** An effect as the bound sees it: what it is, which event recorded it, its keyed-timer key (scoped as stored), and whether it is live (not suppressed history). */
export type BoundedEffect = Pick<RecordedEffect, 'kind' | 'eventIndex'> & { key: string | null; live: boolean };

export type PendingCounts = {
  reducer: number;
  team: number;
  /** Keys of this reducer's pending timers that the batch's keyed timers or cancel()s would replace. */
  pendingKeys: Set<string>;
};
export type TimerLimits = { reducer: number; team: number };

/**
 * The first event at which the batch's effects, applied in order, would leave more pending timers
 * than a limit allows, with the message to stop there; null when they fit. Pure: each live keyed
 * timer or cancel() first retires the pending timer with its key (stored or earlier in the batch),
 * each live timer then adds one.
 */
export function firstCrossing(effects: BoundedEffect[], counts: PendingCounts, limits: TimerLimits): { index: number; message: string } | null {
  let reducer = counts.reducer;
  let team = counts.team;
  const pending = new Set(counts.pendingKeys);
  for (const e of effects) {
    if (!e.live || (e.kind !== 'timer' && e.kind !== 'cancel')) continue;
    if (e.key !== null && pending.delete(e.key)) {
      reducer--;
      team--;
    }
    if (e.kind !== 'timer') continue;
    reducer++;
    team++;
    if (e.key !== null) pending.add(e.key);
    if (reducer > limits.reducer) {
      return { index: e.eventIndex, message: `RangeError: schedule() would leave more than ${limits.reducer} timers of this reducer waiting to fire, its limit (TIMERS_PENDING_PER_REDUCER); resume once some have fired, or cancel() keyed ones` };
    }
    if (team > limits.team) {
      return { index: e.eventIndex, message: `RangeError: schedule() would leave more than ${limits.team} timers of this team waiting to fire, across all its reducers, its limit (TIMERS_PENDING_PER_TEAM); resume once some have fired, or cancel() keyed ones` };
    }
  }
  return null;
}

export type TimerBoundOptions = { streamId: string; teamId: string; reducerId: string; effects: BoundedEffect[] };

/**
 * Where a folded batch must stop for the pending-timer bounds: a FoldError at the crossing event, or
 * null. Batches that schedule no live timer cost nothing; others count this reducer's pending
 * timers (one shard) and the team's (every shard on Citus: a team's streams are spread), each
 * counting stopping past what the decision needs. Two reducers of a team committing at the same
 * moment may overshoot the team's bound by a batch.
 */
export async function checkTimerBounds({ streamId, teamId, reducerId, effects }: TimerBoundOptions): Promise<FoldError | null> {
  if (!effects.some((e) => e.live && e.kind === 'timer')) return null;
  const e = env();
  const limits = { reducer: e.TIMERS_PENDING_PER_REDUCER, team: e.TIMERS_PENDING_PER_TEAM };
  const keys = [...new Set(effects.flatMap((x) => (x.live && x.key !== null ? [x.key] : [])))];
  const [reducer, team, pendingKeys] = await Promise.all([
    countPending(`AND "streamId" = $3::uuid AND "reducerId" = $4::uuid`, [teamId, limits.reducer + keys.length + 1, streamId, reducerId]),
    countPending('', [teamId, limits.team + keys.length + 1]),
    keys.length === 0
      ? Promise.resolve(new Set<string>())
      : sql<{ key: string }>(
          `SELECT key FROM "Effect" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND key = ANY($3::text[]) AND kind = 'timer' AND status = 'pending'`,
          [streamId, reducerId, keys],
        ).then((rows) => new Set(rows.map((r) => r.key))),
  ]);
  const crossing = firstCrossing(effects, { reducer, team, pendingKeys }, limits);
  return crossing && { kind: 'threw', index: crossing.index, message: crossing.message, stack: '' };
}

/** Pending timers of the team (and `extra` conditions), counted up to `$2` (enough to decide). */
async function countPending(extra: string, values: unknown[]): Promise<number> {
  const [row] = await sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT 1 FROM "Effect" WHERE "teamId" = $1::uuid AND kind = 'timer' AND status = 'pending' ${extra} LIMIT $2) AS p`,
    values,
  );
  return row?.n ?? 0;
}
