// Replay preview: before new code is saved with "replay from the start", fold it over the whole
// history (in the worker, with the usual sandbox limits, in batches that report progress) and
// record what a replay would: the final state, and the effects it would record — every one of them
// for an event already in the stream, so every one suppressed as history, never sent.
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

export type PreviewEffect = { id: string; eventIndex: number; ordinal: number; kind: string; summary: string; payload: unknown; suppressed: true };

/** Starts a preview of `code` replayed over the reducer's stream; the worker's `preview` queue folds it. */
export async function startReplayPreview({ streamId, reducerId, code, initialState, db = defaultDb() }: { streamId: string; reducerId: string; code: string; initialState: unknown; db?: Db }) {
  const reducer = await db.reducer.findUniqueOrThrow({ where: { streamId_id: { streamId, id: reducerId } }, select: { streamId: true, version: true, stream: { select: { teamId: true, length: true } } } });
  return db.replayPreview.create({
    data: {
      reducerId,
      streamId: reducer.streamId,
      teamId: reducer.stream.teamId,
      version: reducer.version + 1,
      code,
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
  const fail = (error: { message: string; index: number | null }) =>
    db.replayPreview.update({ where: key, data: { status: 'failed', folded, error, finishedAt: new Date() } });
  while (folded < p.until) {
    const rows = await readEvents({ streamId: p.streamId, start: folded, end: Math.min(p.until, folded + 1000) });
    if (rows.length === 0) break;
    const events: SandboxEvent[] = rows.map((e) => ({ index: e.index, bodyJson: e.bodyJson, receivedAt: e.receivedAt.getTime() }));
    const result = await foldSlice({ tenant: p.teamId, cacheKey: `preview:${previewId}`, code: p.code, stateJson, events, stream: { ...stream, length: p.until } });
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
  if (p.status === 'done' && p.until > 0) {
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
    error: p.error as { message: string; index: number | null } | null,
    finalState: p.finalState,
    oldState,
    effects: p.effects as unknown as PreviewEffect[],
    effectCounts: p.effectCounts as Record<string, number>,
    startedAt: p.createdAt,
    finishedAt: p.finishedAt,
  };
}
