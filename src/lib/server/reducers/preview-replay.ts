// Replay preview: before new code is saved with "replay from the start", fold it over the whole
// history (in the worker, with the usual sandbox limits, in batches that report progress) and
// record what a replay would: the final state, and the effects it would record — every one of them
// for an event already in the stream, so every one suppressed as history, never sent.
import { accountOf } from '../teams/account-of.ts';
import { db as defaultDb, sql, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { readEvents } from '../streams/read-events.ts';
import { specOf } from '../effects/kinds/index.ts';
import { Prisma } from '../db/generated/client.ts';
import { foldSlice, type SandboxEvent } from './sandbox/index.ts';
import { effectId } from './effect-id.ts';
import { readReducerState } from './read-state.ts';
import { stateAt } from './state-at.ts';
import { foldKeyedInMemory } from './fold-keyed.ts';
import { readKeys } from './read-keys.ts';

export type PreviewEffect = { id: string; eventIndex: number; ordinal: number; kind: string; summary: string; payload: unknown; suppressed: true };

/** Starts a preview of `code` replayed over the reducer's stream; the worker's `preview` queue folds it. */
export async function startReplayPreview({ streamId, reducerId, code, keyBy = null, initialState, db = defaultDb() }: { streamId: string; reducerId: string; code: string; keyBy?: string | null; initialState: unknown; db?: Db }) {
  const reducer = await db.reducer.findUniqueOrThrow({ where: { streamId_id: { streamId, id: reducerId } }, select: { streamId: true, version: true, stream: { select: { teamId: true, length: true } } } });
  return db.replayPreview.create({
    data: {
      reducerId,
      streamId: reducer.streamId,
      teamId: reducer.stream.teamId,
      version: reducer.version + 1,
      code,
      keyBy,
      initialState: initialState === null || initialState === undefined ? Prisma.JsonNull : (initialState as Prisma.InputJsonValue),
      until: reducer.stream.length,
    },
    select: { id: true, streamId: true, until: true, version: true },
  });
}

/** Folds a preview to its end; progress is stored as it goes. Safe to run again (it starts over). */
export async function runReplayPreview({ streamId, previewId, db = defaultDb() }: { streamId: string; previewId: string; db?: Db }): Promise<void> {
  const key = { streamId_id: { streamId, id: previewId } };
  const p = await db.replayPreview.findUnique({
    where: key,
    include: { reducer: { select: { name: true, stream: { select: { slug: true, team: { select: { slug: true } } } } } } },
  });
  if (!p || p.status !== 'running') return;
  const max = env().PREVIEW_EFFECTS_MAX;
  const effects: PreviewEffect[] = [];
  const counts: Record<string, number> = {};
  let stateJson = JSON.stringify(p.initialState ?? null);
  let folded = 0;
  let lastReport = Date.now();
  const stream = { team: p.reducer.stream.team.slug, name: p.reducer.stream.slug };
  if (p.keyBy !== null) return runKeyedPreview({ p: { ...p, keyBy: p.keyBy }, stream, db });
  const fail = (error: { message: string; index: number | null }) =>
    db.replayPreview.update({ where: key, data: { status: 'failed', folded, error, finishedAt: new Date() } });
  while (folded < p.until) {
    const rows = await readEvents({ streamId: p.streamId, start: folded, end: Math.min(p.until, folded + 1000) });
    if (rows.length === 0) break;
    const events: SandboxEvent[] = rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
    const result = await foldSlice({ tenant: await accountOf(p.teamId), cacheKey: `preview:${previewId}`, code: p.code, stateJson, events, stream: { ...stream, length: p.until } });
    for (const e of result.effects) {
      counts[e.kind] = (counts[e.kind] ?? 0) + 1;
      if (effects.length < max) {
        effects.push({ id: effectId(p.reducerId, p.version, e.eventIndex, e.ordinal), eventIndex: e.eventIndex, ordinal: e.ordinal, kind: e.kind, summary: specOf(e.kind).summary(e.payload as never), payload: e.payload, suppressed: true });
      }
    }
    stateJson = result.stateJson;
    folded += result.folded;
    if (result.error) {
      await fail({ message: result.error.message, index: result.error.index });
      return;
    }
    if (Date.now() - lastReport > 250) {
      lastReport = Date.now();
      // Someone may have cancelled it (a newer preview of the same reducer).
      const { count } = await db.replayPreview.updateMany({ where: { streamId, id: previewId, status: 'running' }, data: { folded } });
      if (count === 0) return;
    }
  }
  await db.replayPreview.updateMany({
    where: { streamId, id: previewId, status: 'running' },
    data: { status: 'done', folded, finalState: JSON.parse(stateJson) as Prisma.InputJsonValue, effects: effects as unknown as Prisma.InputJsonValue, effectCounts: counts, finishedAt: new Date() },
  });
}

/** A preview with its progress, and once done the old version's state at the same point beside the new one. */
export async function readReplayPreview({ streamId, previewId, reducerId, db = defaultDb() }: { streamId: string; previewId: string; reducerId: string; db?: Db }) {
  const p = await db.replayPreview.findFirst({ where: { streamId, id: previewId, reducerId } });
  if (!p) throw new AppError('not_found', 'No such preview for this reducer.');
  let oldState: unknown = null;
  const live = await db.reducer.findUnique({ where: { streamId_id: { streamId, id: reducerId } }, select: { keyBy: true } });
  // A keyed preview compares key by key (its finalState); one state is compared with the old one state.
  if (p.status === 'done' && p.until > 0 && p.keyBy === null && live?.keyBy === null) {
    const [stream] = await sql<{ slug: string; team: string; teamId: string }>(`SELECT s.slug, t.slug AS team, s."teamId" FROM "Stream" s JOIN "Team" t ON t.id = s."teamId" WHERE s.id = $1::uuid`, [p.streamId]);
    const past = await stateAt({ stream: { id: p.streamId, ...stream }, reducerId, index: p.until - 1 }).catch(() => null);
    const live = past ? null : await db.reducer.findUnique({ where: { streamId_id: { streamId, id: reducerId } }, select: { name: true } });
    oldState = past ? JSON.parse(past.stateJson) : live ? JSON.parse((await readReducerState({ streamId: p.streamId, name: live.name }))?.stateJson ?? 'null') : null;
  }
  return {
    id: p.id,
    status: p.status as 'running' | 'done' | 'failed',
    folded: p.folded,
    until: p.until,
    version: p.version,
    keyBy: p.keyBy,
    error: p.error as { message: string; index: number | null } | null,
    finalState: p.finalState,
    oldState,
    effects: p.effects as unknown as PreviewEffect[],
    effectCounts: p.effectCounts as Record<string, number>,
    startedAt: p.createdAt,
    finishedAt: p.finishedAt,
  };
}

/** The most keys a keyed preview holds in memory; a replay over more is not previewed (it can still be saved). */
export const PREVIEW_KEYS_MAX = 100_000;
/** Keys whose old and new states are shown side by side. */
const PREVIEW_KEYS_SHOWN = 50;

type PreviewRow = { id: string; streamId: string; reducerId: string; teamId: string; version: number; code: string; keyBy: string; initialState: unknown; until: number; reducer: { name: string } };

/**
 * A keyed reducer's preview: the new code and keyBy over the history with every key's state in
 * memory; then, per key, the new state beside the live one (when the live reducer is keyed), the
 * first PREVIEW_KEYS_SHOWN keys that differ shown, with counts. Stored in `finalState`.
 */
async function runKeyedPreview({ p, stream, db }: { p: PreviewRow; stream: { team: string; name: string }; db: Db }): Promise<void> {
  const key = { streamId_id: { streamId: p.streamId, id: p.id } };
  const max = env().PREVIEW_EFFECTS_MAX;
  const effects: PreviewEffect[] = [];
  const counts: Record<string, number> = {};
  const states = new Map<string, string>();
  let folded = 0;
  let lastReport = Date.now();
  const fail = (error: { message: string; index: number | null }) => db.replayPreview.update({ where: key, data: { status: 'failed', folded, error, finishedAt: new Date() } });
  while (folded < p.until) {
    const rows = await readEvents({ streamId: p.streamId, start: folded, end: Math.min(p.until, folded + 1000) });
    if (rows.length === 0) break;
    const result = await foldKeyedInMemory({
      track: { reducerId: p.reducerId, version: p.version, lineage: 0, keyCount: states.size, keyLimit: PREVIEW_KEYS_MAX },
      code: { code: p.code, keyBy: p.keyBy, initialJson: JSON.stringify(p.initialState ?? null) },
      tenant: await accountOf(p.teamId),
      stream: { id: p.streamId, ...stream, length: p.until },
      events: rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() })),
      states,
      cacheKey: `preview:${p.id}`,
    });
    for (const e of result.effects) {
      counts[e.kind] = (counts[e.kind] ?? 0) + 1;
      if (effects.length < max) {
        effects.push({ id: effectId(p.reducerId, p.version, e.eventIndex, e.ordinal), eventIndex: e.eventIndex, ordinal: e.ordinal, kind: e.kind, summary: specOf(e.kind).summary(e.payload as never), payload: e.payload, suppressed: true });
      }
    }
    folded += result.folded;
    if (result.error) {
      const tooMany = result.error.kind === 'key' && result.error.message.includes('its limit');
      await fail({ message: tooMany ? `The preview holds at most ${PREVIEW_KEYS_MAX} keys in memory, and this replay has more; save it to replay for real.` : result.error.message, index: result.error.index });
      return;
    }
    if (Date.now() - lastReport > 250) {
      lastReport = Date.now();
      const { count } = await db.replayPreview.updateMany({ where: { streamId: p.streamId, id: p.id, status: 'running' }, data: { folded } });
      if (count === 0) return;
    }
  }
  const summary = await compareKeys(p, states);
  await db.replayPreview.updateMany({
    where: { streamId: p.streamId, id: p.id, status: 'running' },
    data: { status: 'done', folded, finalState: summary as unknown as Prisma.InputJsonValue, effects: effects as unknown as Prisma.InputJsonValue, effectCounts: counts, finishedAt: new Date() },
  });
}

/** The new keys beside the live ones, a thousand keys a statement. */
async function compareKeys(p: PreviewRow, states: Map<string, string>) {
  const live = await readReducerState({ streamId: p.streamId, name: p.reducer.name });
  const differ: { key: string; old: unknown; new: unknown }[] = [];
  let changed = 0;
  let added = 0;
  const all = [...states.keys()].sort();
  for (let i = 0; i < all.length; i += 1000) {
    const slice = all.slice(i, i + 1000);
    const old = live?.keyed ? await readKeys({ streamId: p.streamId, reducerId: p.reducerId, lineage: live.keyed.lineage, keys: slice }) : new Map<string, string>();
    for (const k of slice) {
      const before = old.get(k);
      const after = states.get(k)!;
      if (before === undefined) added++;
      else if (JSON.stringify(JSON.parse(before)) === after) continue;
      changed++;
      if (differ.length < PREVIEW_KEYS_SHOWN) differ.push({ key: k, old: before === undefined ? null : JSON.parse(before), new: JSON.parse(after) });
    }
  }
  return { keyed: true, keys: states.size, changed, added, differ };
}
