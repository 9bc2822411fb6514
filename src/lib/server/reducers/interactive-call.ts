// Expensive interactive work (time travel `?at=`, dry runs, compile checks, replay-preview starts)
// is bounded per call: at most INTERACTIVE_CONCURRENCY_PER_TEAM running at once per team and
// INTERACTIVE_CONCURRENCY in all in this process (beyond them a clear refusal with Retry-After,
// never a queue that grows), INTERACTIVE_CPU_MS of sandbox CPU across all its slices, and stopped
// between slices once its client goes away.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { accountOf } from '../teams/account-of.ts';
import { CallBudget, withBudget } from './sandbox/index.ts';

const perTeam = new Map<string, number>();
let total = 0;

export type InteractiveCallOptions = {
  teamId: string;
  /** The request's signal: aborted when the client goes away. */
  signal?: AbortSignal;
};

/** Runs `work` as one interactive call of the team, with its budget (also reaching every fold inside it). */
export async function interactiveCall<T>({ teamId, signal }: InteractiveCallOptions, work: (budget: CallBudget) => Promise<T>): Promise<T> {
  const e = env();
  // Counted per account (the team's owner), so a person's teams share the cap: more teams, no more calls.
  const account = await accountOf(teamId);
  const mine = perTeam.get(account) ?? 0;
  if (mine >= e.INTERACTIVE_CONCURRENCY_PER_TEAM) {
    throw new AppError(
      'rate_limited',
      `This team (with the other teams of its owner) already has ${mine} expensive calls running (time travel, dry runs, compile checks; at most ${e.INTERACTIVE_CONCURRENCY_PER_TEAM} at once): wait for one to finish.`,
      { retryAfter: 1 },
    );
  }
  if (total >= e.INTERACTIVE_CONCURRENCY) {
    throw new AppError('unavailable', 'This server is busy with other time travel, dry runs and compile checks; try again in a moment.', { retryAfter: 2 });
  }
  perTeam.set(account, mine + 1);
  total++;
  try {
    const budget = new CallBudget({ cpuMs: e.INTERACTIVE_CPU_MS, signal });
    return await withBudget(budget, () => work(budget));
  } finally {
    total--;
    const left = (perTeam.get(account) ?? 1) - 1;
    if (left > 0) perTeam.set(account, left);
    else perTeam.delete(account);
  }
}
