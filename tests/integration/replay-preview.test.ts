// Replay preview: before saving new code with "replay from the start", the worker folds the whole
// history with it and lists exactly the effects the replay would record — all suppressed as history.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useOwnDatabase, makeStream } from '../helpers/context.ts';

process.env.REDUCER_SNAPSHOT_EVERY = '50';
await useOwnDatabase('preview');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { startReplayPreview, runReplayPreview, readReplayPreview } = await import('../../src/lib/server/reducers/preview-replay.ts');

let teamId: string;
beforeAll(async () => {
  teamId = (await makeTeam(db())).id;
});

async function foldAll(streamId: string) {
  while ((await foldStream({ streamId })).more);
}

const NEW_CODE = `(s, e, i) => {
  if (e.amount >= 90) request('https://alerts.example/big', { body: { i, amount: e.amount } });
  if (e.amount % 17 === 0) schedule(60000, { type: 'recheck', i });
  return { total: s.total + e.amount, big: s.big + (e.amount >= 90 ? 1 : 0) };
}`;

describe('replay preview', () => {
  it('shows old and new final states, and lists exactly the effects a replay then records, suppressed', async () => {
    const s = await makeStream(db(), { teamId, slug: uniqueSlug('pv'), name: 'pv' });
    await appendEvents({ streamId: s.id, bodies: Array.from({ length: 230 }, (_, i) => ({ amount: (i * 37) % 101 })) });
    await upsertReducer({ streamId: s.id, name: 'money', code: '(s, e) => ({ total: s.total + e.amount, big: 0 })', initialState: { total: 0, big: 0 } });
    await foldAll(s.id);
    const reducer = await db().reducer.findFirstOrThrow({ where: { streamId: s.id } });

    const started = await startReplayPreview({ streamId: s.id, reducerId: reducer.id, code: NEW_CODE, initialState: { total: 0, big: 0 } });
    expect(started).toMatchObject({ until: 230, version: 2 });
    expect((await readReplayPreview({ streamId: s.id, previewId: started.id, reducerId: reducer.id })).status).toBe('running');
    await runReplayPreview({ streamId: s.id, previewId: started.id });
    const preview = await readReplayPreview({ streamId: s.id, previewId: started.id, reducerId: reducer.id });
    expect(preview).toMatchObject({ status: 'done', folded: 230, until: 230 });
    const total = Array.from({ length: 230 }, (_, i) => (i * 37) % 101).reduce((a, b) => a + b, 0);
    expect(preview.oldState).toEqual({ total, big: 0 });
    expect((preview.finalState as { total: number }).total).toBe(total);
    expect(preview.effects.length).toBeGreaterThan(10);
    expect(preview.effects.every((e) => e.suppressed)).toBe(true);
    expect(preview.effectCounts).toEqual({ webhook: preview.effects.filter((e) => e.kind === 'webhook').length, timer: preview.effects.filter((e) => e.kind === 'timer').length });

    // Now save it with replay: the effects it records are the preview's, to the id.
    await upsertReducer({ streamId: s.id, name: 'money', code: NEW_CODE, initialState: { total: 0, big: 0 }, replay: true });
    await foldAll(s.id);
    const recorded = await db().effect.findMany({ where: { reducerId: reducer.id, version: 2 }, orderBy: [{ eventIndex: 'asc' }, { ordinal: 'asc' }] });
    expect(recorded.every((e) => e.status === 'suppressed')).toBe(true);
    expect(recorded.map((e) => ({ id: e.id, eventIndex: e.eventIndex, ordinal: e.ordinal, kind: e.kind, payload: e.payload }))).toEqual(
      preview.effects.map((e) => ({ id: e.id, eventIndex: e.eventIndex, ordinal: e.ordinal, kind: e.kind, payload: e.payload })),
    );
  });

  it('stops at a failing event and says which', async () => {
    const s = await makeStream(db(), { teamId, slug: uniqueSlug('pv'), name: 'pv' });
    await appendEvents({ streamId: s.id, bodies: [1, 2, 3, 'boom', 5] });
    await upsertReducer({ streamId: s.id, name: 'n', code: '(s, e) => s + 1', initialState: 0 });
    const reducer = await db().reducer.findFirstOrThrow({ where: { streamId: s.id } });
    const { id } = await startReplayPreview({ streamId: s.id, reducerId: reducer.id, code: '(s, e) => { if (e === "boom") throw new Error("no booms"); return s + e }', initialState: 0 });
    await runReplayPreview({ streamId: s.id, previewId: id });
    expect(await readReplayPreview({ streamId: s.id, previewId: id, reducerId: reducer.id })).toMatchObject({ status: 'failed', folded: 3, error: { index: 3, message: expect.stringMatching(/no booms/) } });
  });
});
