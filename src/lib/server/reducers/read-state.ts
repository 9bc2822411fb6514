import { sql } from '../db/client.ts';
import type { KeyState } from './read-keys.ts';

export type ReducerStateView = {
  reducerId: string;
  version: number;
  stateJson: string;
  folded: number;
  status: 'active' | 'errored' | 'paused';
  errorMessage: string | null;
  errorIndex: number | null;
  replay: { version: number; folded: number; until: number } | null;
  /** Keyed reducers: where their keys live (the live lineage) and how many there are; null for one state. */
  keyed: { lineage: number; keyCount: number } | null;
};

type Row = {
  reducerId: string; version: number; state: string | null; cursor: number; status: ReducerStateView['status']; errorMessage: string | null; errorIndex: number | null;
  replayVersion: number | null; replayCursor: number | null; replayUntil: number | null; keyed: boolean; lineage: number; keyCount: number;
  keyState?: string | null; keyIndex?: number | null;
};

const COLUMNS = `r.id AS "reducerId", rs.version, rs.state::text AS state, rs.cursor, rs.status::text AS status, rs."errorMessage", rs."errorIndex",
            rs."replayVersion", rs."replayCursor", rs."replayUntil", rv."keyBy" IS NOT NULL AS keyed, rs.lineage, rs."keyCount"`;
const FROM = `"Reducer" r JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id
     JOIN "ReducerVersion" rv ON rv."streamId" = rs."streamId" AND rv."reducerId" = rs."reducerId" AND rv.version = rs.version`;

/** The readable (live) state of a stream's reducer by name; during a replay, the old state. */
export async function readReducerState({ streamId, name }: { streamId: string; name: string }): Promise<ReducerStateView | null> {
  const [r] = await sql<Row>(`SELECT ${COLUMNS} FROM ${FROM} WHERE r."streamId" = $1::uuid AND r.name = $2`, [streamId, name]);
  return r ? toView(r) : null;
}

/**
 * The reducer's view and one key's live state in one statement (the key read by URL): `key` is
 * null when the reducer is keyed but has not seen it, undefined when the reducer is not keyed.
 */
export async function readReducerKey({ streamId, name, key }: { streamId: string; name: string; key: string }): Promise<{ view: ReducerStateView; key: KeyState | null } | null> {
  const [r] = await sql<Row>(
    `SELECT ${COLUMNS}, ks.state::text AS "keyState", ks."index" AS "keyIndex"
     FROM ${FROM}
     LEFT JOIN "KeyedState" ks ON ks."streamId" = rs."streamId" AND ks."reducerId" = rs."reducerId" AND ks.lineage = rs.lineage AND ks.key = $3
     WHERE r."streamId" = $1::uuid AND r.name = $2`,
    [streamId, name, key],
  );
  if (!r) return null;
  return { view: toView(r), key: r.keyIndex === null || r.keyIndex === undefined ? null : { key, stateJson: r.keyState ?? 'null', index: r.keyIndex } };
}

function toView(r: Row): ReducerStateView {
  return {
    reducerId: r.reducerId,
    version: r.version,
    stateJson: r.state ?? 'null',
    folded: r.cursor,
    status: r.status,
    errorMessage: r.errorMessage,
    errorIndex: r.errorIndex,
    replay: r.replayVersion === null ? null : { version: r.replayVersion, folded: r.replayCursor ?? 0, until: r.replayUntil ?? 0 },
    keyed: r.keyed ? { lineage: r.lineage, keyCount: r.keyCount } : null,
  };
}
