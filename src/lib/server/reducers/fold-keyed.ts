// One slice of a keyed reducer's fold: keyBy names each event's key in the sandbox, the states of
// just those keys are read in one statement, and each event folds into its own key's state. What
// comes back is the keys that changed (their last state) and every change, for one commit with the
// cursor: the work never depends on how many keys the reducer holds.
import { sql } from '../db/client.ts';
import { env } from '../env.ts';
import { foldSlice, type FoldError, type FoldResult, type SandboxEvent } from './sandbox/index.ts';
import type { ReducerCode } from './reducer-code.ts';

export type KeyedTrack = { reducerId: string; version: number; lineage: number; keyCount: number; keyLimit: number };

/** Rows for pipet_commit_keyed_fold: the last state of each key that changed, and every change. */
export type KeyedWrites = {
  states: { key: string; json: string; index: number }[];
  changes: { key: string; json: string; index: number }[];
  /** The key each folded event belongs to (events keyBy passed over are absent). */
  keyOf: Map<number, string>;
};

export type KeyedFoldOptions = {
  track: KeyedTrack;
  code: ReducerCode & { keyBy: string };
  tenant: string;
  stream: { id: string; team: string; name: string; length: number };
  events: SandboxEvent[];
};

export async function foldKeyed({ track, code, tenant, stream, events }: KeyedFoldOptions): Promise<{ result: FoldResult; writes: KeyedWrites }> {
  const meta = { team: stream.team, name: stream.name, length: stream.length };
  const named = await foldSlice({ tenant, cacheKey: `${track.reducerId}:${track.version}:key`, code: code.keyBy, stateJson: 'null', events, stream: meta, mode: 'keys' });
  const keys = named.keys ?? [];
  let upTo = named.folded;
  let stop: FoldError | undefined = named.error;

  const wanted = [...new Set(keys.filter((k): k is string => k !== null))];
  const stored = new Map<string, string>();
  if (wanted.length > 0) {
    const rows = await sql<{ key: string; state: string | null }>(
      `SELECT key, state::text AS state FROM "KeyedState" WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND lineage = $3 AND key = ANY($4::text[])`,
      [stream.id, track.reducerId, track.lineage, wanted],
    );
    for (const r of rows) stored.set(r.key, r.state ?? 'null');
  }

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

  // Only events with a key reach the reducer; the rest are passed over.
  const positions: number[] = [];
  for (let i = 0; i < upTo; i++) if (keys[i] !== null) positions.push(i);
  const folded =
    positions.length === 0
      ? { stateJson: 'null', folded: 0, effects: [], states: [] as string[] }
      : await foldSlice({
          tenant,
          cacheKey: `${track.reducerId}:${track.version}`,
          code: code.code,
          stateJson: code.initialJson,
          events: positions.map((p) => events[p]),
          stream: meta,
          mode: 'keyed',
          keys: positions.map((p) => keys[p]!),
          keyStatesJson: `{${[...stored].map(([k, json]) => `${JSON.stringify(k)}:${json}`).join(',')}}`,
        });

  let count = upTo;
  if (folded.folded < positions.length) {
    count = positions[folded.folded];
    stop = folded.error;
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
