// The periodic sweep: re-enqueueing whatever PostgreSQL says is behind, plus housekeeping — the
// idempotency window every sweep, and retention (settled effects, outbox emails, expired sessions,
// ended invites, time-travel snapshots beyond their budget, keyed rows of replaced lineages) at most
// once per RETENTION_INTERVAL_MS.
import { env } from '../lib/server/env.ts';
import { sweepIdempotency } from '../lib/server/streams/sweep-idempotency.ts';
import { sweepFolds } from '../lib/server/reducers/sweep-folds.ts';
import { sweepEffects } from '../lib/server/effects/sweep-effects.ts';
import { pruneEffects } from '../lib/server/effects/prune-effects.ts';
import { pruneSessions } from '../lib/server/auth/prune-sessions.ts';
import { pruneInvites } from '../lib/server/teams/prune-invites.ts';
import { pruneSnapshots } from '../lib/server/reducers/prune-snapshots.ts';
import { pruneKeyLineages } from '../lib/server/reducers/prune-key-lineages.ts';

let lastRetention = 0;

export async function runSweep(): Promise<void> {
  await sweepFolds();
  await sweepIdempotency();
  await sweepEffects();
  const e = env();
  if (Date.now() - lastRetention >= e.RETENTION_INTERVAL_MS) {
    lastRetention = Date.now();
    await runRetention();
  }
}

export async function runRetention(): Promise<{ effects: number; emails: number; sessions: number; invites: number; snapshots: number; keyRows: number }> {
  const e = env();
  const { effects, emails } = await pruneEffects({ olderThanDays: e.EFFECT_RETENTION_DAYS });
  const snapshots = await pruneSnapshots({ max: e.REDUCER_SNAPSHOTS_MAX, maxBytes: e.REDUCER_SNAPSHOT_BYTES_MAX });
  // Keyed rows of lineages a replay replaced (or an abandoned replay wrote).
  const keyRows = await pruneKeyLineages();
  return { effects, emails, sessions: await pruneSessions(), invites: await pruneInvites({ olderThanDays: e.INVITE_RETENTION_DAYS }), snapshots, keyRows };
}
