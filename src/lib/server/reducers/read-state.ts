import { sql } from '../db/client.ts';

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

/** The readable (live) state of a stream's reducer by name; during a replay, the old state. */
export async function readReducerState({ streamId, name }: { streamId: string; name: string }): Promise<ReducerStateView | null> {
  const rows = await sql<{ reducerId: string; version: number; state: string | null; cursor: number; status: ReducerStateView['status']; errorMessage: string | null; errorIndex: number | null; replayVersion: number | null; replayCursor: number | null; replayUntil: number | null; keyed: boolean; lineage: number; keyCount: number }>(
    `SELECT r.id AS "reducerId", rs.version, rs.state::text AS state, rs.cursor, rs.status::text AS status, rs."errorMessage", rs."errorIndex",
            rs."replayVersion", rs."replayCursor", rs."replayUntil", rv."keyBy" IS NOT NULL AS keyed, rs.lineage, rs."keyCount"
     FROM "Reducer" r JOIN "ReducerState" rs ON rs."streamId" = r."streamId" AND rs."reducerId" = r.id
     JOIN "ReducerVersion" rv ON rv."streamId" = rs."streamId" AND rv."reducerId" = rs."reducerId" AND rv.version = rs.version
     WHERE r."streamId" = $1::uuid AND r.name = $2`,
    [streamId, name],
  );
  const r = rows[0];
  if (!r) return null;
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
