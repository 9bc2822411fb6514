// Keyed timers: schedule(ms, event, { key }) replaces the reducer's pending timer with that key (a
// debounce), cancel(key) drops it; both are applied in the fold's own commit, so they are
// exactly-once and replay-safe — a replaced or cancelled timer never fires.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useOwnDatabase, makeStream } from '../helpers/context.ts';
import { startEffectWorkers } from '../helpers/effects.ts';

await useOwnDatabase('keyed');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer, replayReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
const { readKey } = await import('../../src/lib/server/reducers/read-keys.ts');
const { installRecipe } = await import('../../src/lib/server/recipes/install-recipe.ts');
const { foldBatch } = await import('../../src/lib/server/reducers/sandbox/index.ts');

let teamId: string;
let teamSlug: string;
let workers: Awaited<ReturnType<typeof startEffectWorkers>>;
beforeAll(async () => {
  ({ id: teamId, slug: teamSlug } = await makeTeam(db()));
  workers = await startEffectWorkers();
  // Start the sandbox threads before anything is timed.
  await foldBatch({ cacheKey: 'warm-up', code: '(s) => s', stateJson: '0', events: [{ index: 0, bodyJson: '{}', receivedAt: Date.now() }], stream: { team: 't', name: 's', length: 1 } });
});
afterAll(() => workers?.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const DEBOUNCE = `(s, e) => {
  if (e.type === 'activity') schedule(1500, { type: 'idle', after: e.n }, { key: 'idle' });
  if (e.type === 'stop') cancel('idle');
  if (e.type === 'idle') return { ...s, idle: s.idle + 1, after: e.after };
  return s;
}`;

async function stream() {
  const s = await makeStream(db(), { teamId, slug: uniqueSlug('k'), name: 'k' });
  await upsertReducer({ streamId: s.id, name: 'debounce', code: DEBOUNCE, initialState: { idle: 0, after: null } });
  return s.id;
}

async function append(streamId: string, body: unknown) {
  await appendEvents({ streamId, bodies: [body] });
  await foldStream({ streamId });
}

const bodies = async (streamId: string) => (await db().event.findMany({ where: { streamId }, orderBy: { index: 'asc' } })).map((e) => e.body as { type: string });
const timers = (streamId: string) => db().effect.findMany({ where: { streamId, kind: { in: ['timer', 'cancel'] } }, orderBy: { eventIndex: 'asc' } });

describe('keyed timers', () => {
  it('debounce: fire once, after the last event', async () => {
    const streamId = await stream();
    for (let n = 0; n < 4; n++) {
      await append(streamId, { type: 'activity', n });
      await sleep(100);
    }
    // Only the last timer is left to fire; it comes due 1.5 s after the last activity.
    await sleep(3_000);
    await foldStream({ streamId });
    const log = await bodies(streamId);
    expect(log.filter((b) => b.type === 'idle')).toEqual([{ type: 'idle', after: 3 }]);
    expect(log.findIndex((b) => b.type === 'idle')).toBe(4);
    expect((await timers(streamId)).map((t) => t.status)).toEqual(['cancelled', 'cancelled', 'cancelled', 'delivered']);
    expect(JSON.parse((await readReducerState({ streamId, name: 'debounce' }))!.stateJson)).toEqual({ idle: 1, after: 3 });
  });

  it('replaces within one batch too, and cancel(key) drops the pending timer', async () => {
    const streamId = await stream();
    await appendEvents({ streamId, bodies: [{ type: 'activity', n: 0 }, { type: 'activity', n: 1 }] });
    await foldStream({ streamId });
    expect((await timers(streamId)).map((t) => t.status)).toEqual(['cancelled', 'pending']);
    await append(streamId, { type: 'stop' });
    const rows = await timers(streamId);
    expect(rows.map((t) => [t.kind, t.status])).toEqual([['timer', 'cancelled'], ['timer', 'cancelled'], ['cancel', 'delivered']]);
    await sleep(2_500);
    await foldStream({ streamId });
    expect((await bodies(streamId)).some((b) => b.type === 'idle')).toBe(false);
  });

  it('stay replay-safe: a replay records history as suppressed and cancels no live timer', async () => {
    const streamId = await stream();
    await append(streamId, { type: 'activity', n: 0 });
    const reducer = await db().reducer.findFirstOrThrow({ where: { streamId } });
    await replayReducer({ streamId, reducerId: reducer.id });
    await foldStream({ streamId });
    const rows = await timers(streamId);
    expect(rows.map((t) => [t.version, t.status])).toEqual([[1, 'pending'], [2, 'suppressed']]);
    await sleep(2_500);
    await foldStream({ streamId });
    // The live timer of version 1 fires once; the replay's copy of it never does.
    expect((await bodies(streamId)).filter((b) => b.type === 'idle')).toHaveLength(1);
  });

  it('refuse bad keys with a message for the reducer author', async () => {
    const fold = (call: string) =>
      foldBatch({ cacheKey: uniqueSlug('kt'), code: `(s) => { ${call}; return s }`, stateJson: '0', events: [{ index: 0, bodyJson: '{}', receivedAt: Date.now() }], stream: { team: 't', name: 's', length: 1 } });
    expect((await fold('schedule(1, {}, { key: 7 })')).error?.message).toMatch(/options.key must be a string/);
    expect((await fold('schedule(1, {}, { key: "" })')).error?.message).toMatch(/options.key must not be empty/);
    expect((await fold('cancel()')).error?.message).toMatch(/cancel\(key\): key must be a non-empty string/);
    expect((await fold('schedule(1, {}, { key: "a" }); cancel("a")')).effects.map((e) => e.kind)).toEqual(['timer', 'cancel']);
  });
});

describe('the inactive-users recipe', () => {
  it('marks a user inactive once, N hours (here 0.3 s) after their last event', async () => {
    const slug = uniqueSlug('activity');
    await installRecipe({ teamId, teamSlug, recipe: 'inactive-users', params: { stream: slug, hours: 0.3 / 3600 } });
    const s = await db().stream.findFirstOrThrow({ where: { teamId, slug } });
    for (const type of ['login', 'click', 'click']) {
      await append(s.id, { type, user: 'ada' });
      await sleep(100);
    }
    await append(s.id, { type: 'login', user: 'bob' });
    await sleep(1_000);
    await foldStream({ streamId: s.id });
    // One state per user; user A's `inactive` timer and user B's are two timers.
    const view = (await readReducerState({ streamId: s.id, name: 'inactive' }))!;
    expect(view.keyed).toMatchObject({ keyCount: 2 });
    const user = async (key: string) => JSON.parse((await readKey({ streamId: s.id, reducerId: view.reducerId, lineage: view.keyed!.lineage, key }))!.stateJson);
    expect(await user('ada')).toMatchObject({ nudges: 1 });
    expect(await user('bob')).toMatchObject({ nudges: 1 });
    expect((await bodies(s.id)).filter((b) => b.type === 'inactive')).toHaveLength(2);
  });
});
