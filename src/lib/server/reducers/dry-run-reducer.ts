// Trying reducer code before saving it: fold the stream's last N events (or given ones) from a
// given initial state, with the sandbox's usual limits and nothing stored or sent.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { readEvents } from '../streams/read-events.ts';
import { sha256Hex } from '../crypto.ts';
import { foldBatch } from './sandbox/index.ts';
import { consume, limiter } from '../rate-limit.ts';
import { env } from '../env.ts';

export type DryRunOptions = {
  team: { id: string; slug: string };
  stream: { id: string; slug: string; length: number };
  code: string;
  initialState?: unknown;
  /** The stream's last N events (default 20)... */
  last?: number;
  /** ...or these bodies, indexed from 0 and received now. */
  events?: unknown[];
  db?: DbTx;
};

export async function dryRunReducer({ team, stream, code, initialState = null, last = 20, events: given, db = defaultDb() }: DryRunOptions) {
  const now = Date.now();
  const events = given
    ? given.map((body, i) => ({ index: i, bodyJson: JSON.stringify(body ?? null), receivedAt: now }))
    : (await readEvents({ streamId: stream.id, start: Math.max(0, stream.length - last), end: stream.length })).map((e) => ({
        index: e.index,
        bodyJson: e.bodyJson,
        receivedAt: e.receivedAt.getTime(),
      }));
  await consume(limiter('dry-run', env().DRY_RUN_RATE_LIMIT_PER_MINUTE, 60), team.id, 'Too many dry runs for this team; wait a moment.');
  const result = await foldBatch({
    tenant: team.id,
    cacheKey: `dry:${sha256Hex(code).slice(0, 24)}`,
    code,
    stateJson: JSON.stringify(initialState ?? null),
    events,
    stream: { team: team.slug, name: stream.slug, length: stream.length },
    collectStates: true,
  }, { pool: 'interactive' });
  return {
    steps: events.slice(0, result.folded).map((e, i) => ({ index: e.index, event: JSON.parse(e.bodyJson) as unknown, state: JSON.parse(result.states?.[i] ?? 'null') as unknown })),
    state: JSON.parse(result.stateJson) as unknown,
    effects: result.effects,
    error: result.error ?? null,
  };
}
