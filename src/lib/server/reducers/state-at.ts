// Time travel: a reducer's state right after any event it folded, at a cost that does not grow with
// the stream — fold from the nearest snapshot (at most REDUCER_SNAPSHOT_EVERY events back) in the
// sandbox, with effects discarded, each event with the code of the version that folded it.
import { accountOf } from '../teams/account-of.ts';
import { sql } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { readEventChunks } from '../streams/read-events.ts';
import { clientGone, currentBudget, foldBatch, type CallBudget, type SandboxEvent } from './sandbox/index.ts';

type Version = { version: number; code: string; keyBy: string | null; initialJson: string; startIndex: number; basedOn: number | null };

export type StateAtOptions = {
  stream: { id: string; team: string; slug: string; teamId: string };
  reducerId: string;
  /** The event after which the state is wanted. */
  index: number;
  /** Whose lineage to follow: by default the live version's. */
  version?: number;
  /** An interactive call's CPU budget and client signal (by default interactiveCall's): folding stops when either runs out. */
  budget?: CallBudget;
};

export type StateAt = { stateJson: string; folded: number; version: number };

/**
 * The versions that folded the live (or given) version's state, newest first: a version continued
 * "from here" is based on the one before it; the chain ends at a version that folded from event 0.
 */
async function lineage(streamId: string, reducerId: string, version: number): Promise<Version[]> {
  const rows = await sql<Version>(
    `SELECT version, code, "keyBy", COALESCE("initialState"::text, 'null') AS "initialJson", "startIndex", "basedOn"
     FROM "ReducerVersion" WHERE "streamId" = $3::uuid AND "reducerId" = $1::uuid AND version <= $2 ORDER BY version DESC`,
    [reducerId, version, streamId],
  );
  const byVersion = new Map(rows.map((r) => [r.version, r]));
  const chain: Version[] = [];
  for (let v: number | null = version; v !== null; ) {
    const row = byVersion.get(v);
    if (!row) throw new AppError('not_found', `Version ${v} of this reducer is gone.`);
    chain.push(row);
    v = row.startIndex > 0 ? row.basedOn : null;
  }
  return chain;
}

export async function stateAt({ stream, reducerId, index, version, budget = currentBudget() }: StateAtOptions): Promise<StateAt> {
  const [live] = await sql<{ version: number; cursor: number; status: string; errorIndex: number | null; skipped: number[] }>(
    `SELECT version, cursor, status::text AS status, "errorIndex", skipped FROM "ReducerState" WHERE "streamId" = $2::uuid AND "reducerId" = $1::uuid`,
    [reducerId, stream.id],
  );
  if (!live) throw new AppError('not_found', 'No such reducer.');
  const target = version ?? live.version;
  if (version === undefined && index >= live.cursor) {
    const why = live.status === 'errored' && live.errorIndex !== null && live.errorIndex <= index ? `it stopped at event ${live.errorIndex}` : `${live.cursor} folded so far`;
    throw new AppError('conflict', `Event ${index} is not folded yet (${why}); its state can be read once it is.`);
  }
  const versions = await lineage(stream.id, reducerId, target);
  if (versions[0].keyBy !== null) throw new AppError('bad_request', 'This reducer is keyed: its states are per key, and so is its time travel (…/state/{reducer}/{key}?at=i).');
  // The version that folded a given event: the newest in the chain that had started by then.
  const versionAt = (i: number) => versions.find((v) => v.startIndex <= i) ?? versions[versions.length - 1];

  // The nearest snapshot at or before the target that belongs to this lineage.
  const snapshots = await sql<{ version: number; folded: number; state: string }>(
    `SELECT version, folded, COALESCE(state::text, 'null') AS state FROM "ReducerSnapshot"
     WHERE "streamId" = $1::uuid AND "reducerId" = $2::uuid AND version = ANY($3::int[]) AND folded <= $4
     ORDER BY folded DESC LIMIT 16`,
    [stream.id, reducerId, versions.map((v) => v.version), index + 1],
  );
  const usable = snapshots.find((s) => versionAt(s.folded - 1).version === s.version);
  let folded = usable?.folded ?? 0;
  let stateJson = usable?.state ?? versions[versions.length - 1].initialJson;

  const skipped = new Set(live.skipped ?? []);
  const from = folded;
  // Read a few MiB at a time (a far snapshot over big events must not fill memory), each stretch
  // folded with the code of the version that folded it; stopped between slices by the budget.
  for await (const rows of readEventChunks({ streamId: stream.id, start: folded, end: index + 1, chunkBytes: 4 * 1024 * 1024, signal: budget?.signal })) {
    const last = rows[rows.length - 1].index;
    while (folded <= last) {
      const v = versionAt(folded);
      const end = Math.min(last + 1, ...versions.filter((w) => w.startIndex > folded).map((w) => w.startIndex));
      const events: SandboxEvent[] = rows
        .filter((e) => e.index >= folded && e.index < end && !skipped.has(e.index))
        .map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
      if (budget?.exhausted) throw tooFar(budget, index, from, folded);
      const result = await foldBatch(
        { tenant: await accountOf(stream.teamId), cacheKey: `${reducerId}:${v.version}`, code: v.code, stateJson, events, stream: { team: stream.team, name: stream.slug, length: end } },
        { pool: 'interactive', budget },
      );
      if (result.error) throw new AppError('conflict', `Folding event ${result.error.index} again failed: ${result.error.message}`);
      if (result.yielded && budget) throw tooFar(budget, index, from, events[result.folded]?.index ?? end);
      stateJson = result.stateJson;
      folded = end;
    }
  }
  if (budget?.signal?.aborted) throw clientGone();
  return { stateJson, folded: index + 1, version: target };
}

/** The budget ran out: say how far it got and what would make the call cheaper. */
function tooFar(budget: CallBudget, index: number, from: number, reached: number): AppError {
  return new AppError(
    'conflict',
    `Time travel to event ${index} was stopped after ${Math.round(budget.spentMs)} ms of sandbox CPU (the limit per call is ${budget.cpuMs} ms, INTERACTIVE_CPU_MS): ` +
      `it had folded ${reached - from} of the ${index + 1 - from} events from the nearest snapshot. Ask for an event nearer a snapshot ` +
      `(one is kept every REDUCER_SNAPSHOT_EVERY events once the reducer has folded them), or make the reducer cheaper per event.`,
  );
}

/** The state before a version's first event: its lineage's initial state. */
export async function initialStateOf(streamId: string, reducerId: string, version: number): Promise<string> {
  const versions = await lineage(streamId, reducerId, version);
  return versions[versions.length - 1].initialJson;
}

/** The version whose fold from event 0 a version continues: the lineage its keyed rows are in. */
export async function lineageRoot(streamId: string, reducerId: string, version: number): Promise<number> {
  const versions = await lineage(streamId, reducerId, version);
  return versions[versions.length - 1].version;
}
