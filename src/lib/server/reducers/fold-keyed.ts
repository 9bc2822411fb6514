// One slice of a keyed reducer's fold: keyBy names each event's key in the sandbox, the states of
// just those keys are read in one statement, and each event folds into its own key's state. What
// comes back is the keys that changed (their last state) and every change, for one commit with the
// cursor: the work never depends on how many keys the reducer holds.
import { readKeys } from './read-keys.ts';
import { env } from '../env.ts';
import { defaultLimits, foldSlice, type FoldError, type FoldResult, type PoolName, type SandboxEvent } from './sandbox/index.ts';
import type { ReducerCode } from './reducer-code.ts';

export type KeyedTrack = { reducerId: string; version: number; lineage: number; keyCount: number; keyLimit: number };

/** Rows for pipet_commit_keyed_fold: the last state of each key that changed, and every change. */
export type KeyedWrites = {
  states: { key: string; json: string; index: number }[];
  changes: { key: string; json: string; index: number }[];
  /** The key each folded event belongs to (events keyBy passed over are absent). */
  keyOf: Map<number, string>;
};

/** The stored states (JSON text) of those of `keys` that exist. */
export type KeyLoader = (keys: string[]) => Promise<Map<string, string>>;

export type KeyedFoldOptions = {
  track: KeyedTrack;
  code: ReducerCode & { keyBy: string };
  tenant: string;
  stream: { id: string; team: string; name: string; length: number };
  events: SandboxEvent[];
  /** By default the track's rows in KeyedState, in one statement. */
  load?: KeyLoader;
  pool?: PoolName;
  /** Cache keys for the compiled code (default: by reducer and version). */
  cacheKey?: string;
};

/** One statement: the stored states of the keys a batch names, from the track's lineage. */
function loadStored(streamId: string, track: KeyedTrack): KeyLoader {
  return (keys) => readKeys({ streamId, reducerId: track.reducerId, lineage: track.lineage, keys });
}

export async function foldKeyed({ track, code, tenant, stream, events, load = loadStored(stream.id, track), pool = 'fold', cacheKey = `${track.reducerId}:${track.version}` }: KeyedFoldOptions): Promise<{ result: FoldResult; writes: KeyedWrites }> {
  const meta = { team: stream.team, name: stream.name, length: stream.length };
  const named = await foldSlice({ tenant, cacheKey: `${cacheKey}:key`, code: code.keyBy, stateJson: 'null', events, stream: meta, mode: 'keys' }, { pool });
  const keys = named.keys ?? [];
  let upTo = named.folded;
  // An error of keyBy's own says so: the reducer's author sees which function to fix.
  let stop: FoldError | undefined = named.error && (named.error.kind === 'key' ? named.error : { ...named.error, message: `keyBy: ${named.error.message}` });

  const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
  const stored = wanted.length > 0 ? await load(wanted) : new Map<string, string>();

  // The key limit: the batch stops at the event that would bring one key too many.
  let fresh = 0;
  const seen = new Set<string>();
  for (let i = 0; i < upTo; i++) {
    const key = keys[i];
    if (key === null || stored.has(key) || seen.has(key)) continue;
    seen.add(key);
    if (track.keyCount + ++fresh > track.keyLimit) {
      upTo = i;
      stop = { kind: 'key', index: events[i].index, stack: '', message: `RangeError: this reducer holds ${track.keyCount + fresh - 1} keys, its limit (${track.keyLimit}); an operator can raise it (admin set-limits --keys-per-reducer), or delete keys it no longer needs` };
      break;
    }
  }

  // The stored states one call loads into the engine stay within 1/64 of its memory (1 MiB by
  // default): QuickJS spends ~0.1 s of CPU per MiB of state an event folds, so a call that loaded
  // many large keys would outlive its wall-clock cap. A batch touching many large keys is cut short,
  // the rest folding in the next round, and never fails for it; small states are not affected.
  const budget = defaultLimits().memoryBytes / 64;
  let loaded = 0;
  const counted = new Set<string>();
  for (let i = 0; i < upTo; i++) {
    const key = keys[i];
    if (key === null || counted.has(key)) continue;
    counted.add(key);
    loaded += stored.get(key)?.length ?? 0;
    if (loaded > budget && counted.size > 1) {
      upTo = i;
      stop = undefined;
      break;
    }
  }

  // Only events with a key reach the reducer; the rest are passed over.
  const positions: number[] = [];
  for (let i = 0; i < upTo; i++) if (keys[i] !== null) positions.push(i);
  const folded =
    positions.length === 0
      ? { stateJson: 'null', folded: 0, effects: [], states: [] as string[] }
      : await foldSlice({
          tenant,
          cacheKey,
          code: code.code,
          stateJson: code.initialJson,
          events: positions.map((p) => events[p]),
          stream: meta,
          mode: 'keyed',
          keys: positions.map((p) => keys[p]!),
          keyStatesJson: `{${[...stored].map(([k, json]) => `${JSON.stringify(k)}:${json}`).join(',')}}`,
        }, { pool });

  let count = upTo;
  if (folded.folded < positions.length) {
    count = positions[folded.folded];
    // Out of memory after some events: the engine filled with many keys' states, not with this one
    // event's; the rest fold in the next round from a fresh engine. Only a first event fails for good.
    stop = folded.error?.kind === 'memory' && folded.folded > 0 ? undefined : folded.error;
  }
  const result: FoldResult = { stateJson: 'null', folded: count, effects: folded.effects };
  if (stop) result.error = stop;
  else if (count < events.length) result.yielded = true;
  return { result, writes: changesOf(keys, positions, folded.states ?? [], events, stored) };
}

/** What changed: a key's first sight always, later events only when they changed its state. */
function changesOf(keys: (string | null)[], positions: number[], states: string[], events: SandboxEvent[], stored: Map<string, string>): KeyedWrites {
  // Stored states in the text JSON.stringify gives (PostgreSQL spells jsonb its own way), for comparing.
  const last = new Map<string, string>();
  const latest = new Map<string, { json: string; index: number }>();
  const changes: KeyedWrites['changes'] = [];
  const keyOf = new Map<number, string>();
  states.forEach((json, i) => {
    const key = keys[positions[i]]!;
    const index = events[positions[i]].index;
    keyOf.set(index, key);
    let before = last.get(key);
    if (before === undefined && stored.has(key)) before = JSON.stringify(JSON.parse(stored.get(key)!));
    if (json === before) return;
    last.set(key, json);
    latest.set(key, { json, index });
    changes.push({ key, json, index });
  });
  return { states: [...latest].map(([key, v]) => ({ key, ...v })), changes, keyOf };
}

/** The most keys one reducer of this team may hold. */
export function keyLimitOf(teamLimit: number | null): number {
  return teamLimit ?? env().KEYS_PER_REDUCER;
}

export type InMemoryFold = {
  folded: number;
  effects: FoldResult['effects'];
  error?: FoldError;
  /** Every change, in order. */
  changes: KeyedWrites['changes'];
  keyOf: Map<number, string>;
};

/**
 * Folds all of `events` keyed, with the states kept in `states` (updated in place): dry runs and
 * replay previews, which store nothing. Slices that yield are continued until done or an error.
 */
export async function foldKeyedInMemory(options: Omit<KeyedFoldOptions, 'load'> & { states: Map<string, string> }): Promise<InMemoryFold> {
  const { states, events } = options;
  const out: InMemoryFold = { folded: 0, effects: [], changes: [], keyOf: new Map() };
  while (out.folded < events.length) {
    const { result, writes } = await foldKeyed({
      ...options,
      track: { ...options.track, keyCount: states.size },
      events: events.slice(out.folded),
      load: async (keys) => new Map(keys.flatMap((k) => (states.has(k) ? [[k, states.get(k)!] as const] : []))),
    });
    for (const s of writes.states) states.set(s.key, s.json);
    out.changes.push(...writes.changes);
    for (const [i, k] of writes.keyOf) out.keyOf.set(i, k);
    out.effects.push(...result.effects);
    out.folded += result.folded;
    if (result.error) return { ...out, error: result.error };
    if (result.folded === 0) break;
  }
  return out;
}
