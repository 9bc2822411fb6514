// Trying reducer code before saving it: fold the stream's last N events (or given ones) from a
// given initial state, with the sandbox's usual limits and nothing stored or sent.
import { accountOf } from '../teams/account-of.ts';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { readEvents } from '../streams/read-events.ts';
import { sha256Hex } from '../crypto.ts';
import { currentBudget, foldBatch, type FoldError } from './sandbox/index.ts';
import { consume, limiter } from '../rate-limit.ts';
import { env } from '../env.ts';
import { foldKeyedInMemory } from './fold-keyed.ts';

export type DryRunOptions = {
  team: { id: string; slug: string };
  stream: { id: string; slug: string; length: number };
  code: string;
  initialState?: unknown;
  /** A keyed reducer's key function: each touched key folds from `initialState`. */
  keyBy?: string | null;
  /** The stream's last N events (default 20)... */
  last?: number;
  /** ...or these bodies, indexed from 0 and received now. */
  events?: unknown[];
  db?: DbTx;
};

export async function dryRunReducer({ team, stream, code, initialState = null, keyBy = null, last = 20, events: given, db = defaultDb() }: DryRunOptions) {
  await consume(limiter('dry-run', env().DRY_RUN_RATE_LIMIT_PER_MINUTE, 60), team.id, 'Too many dry runs for this team; wait a moment.');
  const now = Date.now();
  const events = given
    ? given.map((body, i) => ({ index: i, bodyJson: JSON.stringify(body ?? null), receivedAt: now }))
    : (await readEvents({ streamId: stream.id, start: Math.max(0, stream.length - last), end: stream.length })).map((e) => ({
        index: e.index,
        bodyJson: e.bodyJson,
        receivedAt: e.receivedAt.getTime(),
      }));
  if (keyBy) return dryRunKeyed({ team, stream, code, keyBy, initialState, events });
  const result = await foldBatch({
    tenant: await accountOf(team.id),
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
    error: result.error ?? (result.yielded ? budgetSpent(events[result.folded].index, result.folded) : null),
  };
}

/** Inside interactiveCall the dry run stops at its CPU budget: what it folded is shown, with why it stopped. */
function budgetSpent(index: number, folded: number): FoldError {
  const cpuMs = currentBudget()?.cpuMs ?? env().INTERACTIVE_CPU_MS;
  return { kind: 'timeout', index, stack: '', message: `TimeoutError: the dry run used its ${cpuMs} ms of sandbox CPU (INTERACTIVE_CPU_MS) after ${folded} events and stopped here; try fewer events.` };
}

type DryEvent = { index: number; bodyJson: string; receivedAt: number };

/** A keyed dry run: each event's key, the state of its key after it, and every touched key's final state. */
async function dryRunKeyed({ team, stream, code, keyBy, initialState, events }: { team: DryRunOptions['team']; stream: DryRunOptions['stream']; code: string; keyBy: string; initialState: unknown; events: DryEvent[] }) {
  const states = new Map<string, string>();
  const initialJson = JSON.stringify(initialState ?? null);
  const result = await foldKeyedInMemory({
    track: { reducerId: 'dry-run', version: 0, lineage: 0, keyCount: 0, keyLimit: Number.MAX_SAFE_INTEGER },
    code: { code, keyBy, initialJson },
    tenant: await accountOf(team.id),
    stream: { id: stream.id, team: team.slug, name: stream.slug, length: stream.length },
    events,
    states,
    pool: 'interactive',
    cacheKey: `dry:${sha256Hex(keyBy + '\u0000' + code).slice(0, 24)}`,
  });
  const changed = new Map(result.changes.map((c) => [c.index, c.json]));
  const running = new Map<string, string>();
  const steps = events.slice(0, result.folded).map((e) => {
    const key = result.keyOf.get(e.index) ?? null;
    if (key !== null && changed.has(e.index)) running.set(key, changed.get(e.index)!);
    const state = key === null ? null : JSON.parse(running.get(key) ?? initialJson);
    return { index: e.index, event: JSON.parse(e.bodyJson) as unknown, key, state: state as unknown };
  });
  return {
    steps,
    state: null,
    keys: Object.fromEntries([...states].map(([k, json]) => [k, JSON.parse(json) as unknown])),
    effects: result.effects,
    error: result.error ?? null,
  };
}
