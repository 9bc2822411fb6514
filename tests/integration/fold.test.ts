// Folding: states right for every JSON type, errors stop at their event, effects recorded once with
// stable ids, replays give the live state and send nothing new.
import { beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam, uniqueSlug, makeStream } from '../helpers/context.ts';

await useOwnDatabase('fold');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer, replayReducer, resumeReducer, skipFailingEvent } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
const { closeSandbox } = await import('../../src/lib/server/reducers/sandbox/index.ts');

let teamId: string;
beforeAll(async () => {
  teamId = (await makeTeam(db())).id;
  return () => closeSandbox();
});

async function newStream(events: unknown[]) {
  const stream = await makeStream(db(), { teamId, slug: uniqueSlug('s'), name: 's' });
  if (events.length) await appendEvents({ streamId: stream.id, bodies: events });
  return stream.id;
}

async function state(streamId: string, name: string) {
  const view = (await readReducerState({ streamId, name }))!;
  return { ...view, state: JSON.parse(view.stateJson) };
}

const events = [
  { type: 'signup', user: 'ada', amount: 5 },
  { type: 'step', user: 'ada', amount: 2 },
  { type: 'step', user: 'bob', amount: 7 },
  { type: 'doc', user: 'ada', amount: 1 },
];

describe('a reducer per JSON type of state', () => {
  const reducers: [string, string, unknown, (s: any, e: any, i: number) => unknown][] = [
    ['counter', '(state, event) => state + 1', 0, (s) => s + 1],
    ['sum', '(s, e) => s + e.amount', 0, (s, e) => s + e.amount],
    ['text', '(s, e) => s + e.user[0]', '', (s, e) => s + e.user[0]],
    ['flag', '(s, e) => !s', false, (s) => !s],
    ['nothing', '() => null', null, () => null],
    ['list', '(s, e, i) => [...s, i]', [], (s, _e, i) => [...s, i]],
    ['by-type', 'function (s, e) { s[e.type] = (s[e.type] || 0) + 1; return s; }', {}, (s, e) => ({ ...s, [e.type]: (s[e.type] ?? 0) + 1 })],
  ];
  it.each(reducers)('%s equals Array.prototype.reduce over the stored events', async (name, code, initial, reference) => {
    const streamId = await newStream(events);
    await upsertReducer({ streamId, name, code, initialState: initial });
    await foldStream({ streamId });
    const view = await state(streamId, name);
    expect(view.state).toEqual(events.reduce(reference as never, structuredClone(initial)));
    expect(view.folded).toBe(events.length);
    // Later appends fold in too, with constant work per event.
    await appendEvents({ streamId, bodies: [events[0]] });
    await foldStream({ streamId });
    expect((await state(streamId, name)).state).toEqual([...events, events[0]].reduce(reference as never, structuredClone(initial)));
  });

  it('passes index and stream, whose length is the length when the event was appended', async () => {
    const streamId = await newStream([1, 2, 3]);
    await upsertReducer({ streamId, name: 'meta', code: '(s, e, i, stream) => { stream.length = -1; return [...s, [i, stream.name.length > 0, typeof stream.team]]; }', initialState: [] });
    await upsertReducer({ streamId, name: 'lengths', code: '(s, e, i, stream) => [...s, stream.length]', initialState: [] });
    await foldStream({ streamId });
    expect((await state(streamId, 'meta')).state).toEqual([[0, true, 'string'], [1, true, 'string'], [2, true, 'string']]);
    expect((await state(streamId, 'lengths')).state).toEqual([1, 2, 3]);
  });

  it('refuses code that does not compile, before saving it', async () => {
    const streamId = await newStream([]);
    await expect(upsertReducer({ streamId, name: 'broken', code: '(s, e) => {', initialState: 0 })).rejects.toMatchObject({ code: 'bad_request', message: expect.stringContaining('does not compile') });
    await expect(upsertReducer({ streamId, name: 'notfn', code: '42', initialState: 0 })).rejects.toMatchObject({ code: 'bad_request' });
    expect(await db().reducer.count({ where: { streamId } })).toBe(0);
  });
});

describe('errors', () => {
  it('stop the reducer at the failing event; resume after a fix, or skip it', async () => {
    const streamId = await newStream([1, 2, { bad: true }, 4]);
    await upsertReducer({ streamId, name: 'strict', code: '(s, e) => { if (e.bad) throw new Error("bad event"); return s + e; }', initialState: 0 });
    await upsertReducer({ streamId, name: 'other', code: '(s) => s + 1', initialState: 0 });
    await foldStream({ streamId });
    const stopped = await state(streamId, 'strict');
    expect(stopped).toMatchObject({ status: 'errored', errorIndex: 2, folded: 2, state: 3 });
    expect(stopped.errorMessage).toContain('bad event');
    const row = await db().reducerState.findUniqueOrThrow({ where: { streamId_reducerId: { streamId, reducerId: stopped.reducerId } } });
    expect(row.errorStack).toContain('reducer.js:1');
    expect(row.errorStack).not.toContain('/work/');
    expect((await state(streamId, 'other')).state).toBe(4);

    // A fix saved as "continue from here" retries the failing event with the new code.
    await upsertReducer({ streamId, name: 'strict', code: '(s, e) => (e.bad ? s : s + e)', initialState: 0 });
    await foldStream({ streamId });
    expect(await state(streamId, 'strict')).toMatchObject({ status: 'active', state: 7, folded: 4 });

    const again = await newStream([1, { bad: true }, 3]);
    await upsertReducer({ streamId: again, name: 'strict', code: '(s, e) => { if (e.bad) throw new Error("no"); return s + e; }', initialState: 0 });
    await foldStream({ streamId: again });
    const r = await state(again, 'strict');
    await expect(resumeReducer({ streamId: again, reducerId: r.reducerId })).resolves.toBeUndefined();
    await foldStream({ streamId: again });
    expect((await state(again, 'strict')).status).toBe('errored');
    expect(await skipFailingEvent({ streamId: again, reducerId: r.reducerId })).toEqual({ skipped: 1 });
    await foldStream({ streamId: again });
    expect(await state(again, 'strict')).toMatchObject({ status: 'active', state: 4, folded: 3 });
    expect((await db().reducerState.findUniqueOrThrow({ where: { streamId_reducerId: { streamId: again, reducerId: r.reducerId } } })).skipped).toEqual([1]);
  });

  it('a result that is not JSON stops the reducer', async () => {
    const streamId = await newStream([1]);
    await upsertReducer({ streamId, name: 'undef', code: '() => undefined', initialState: 0 });
    await foldStream({ streamId });
    expect(await state(streamId, 'undef')).toMatchObject({ status: 'errored', errorIndex: 0, state: 0 });
  });
});

describe('effects and replays', () => {
  const code = `(s, e, i) => {
    if (e.notify) request('https://hooks.example/n', { body: { i } });
    if (e.mail) email({ to: 'ada@example.com', subject: 'hi ' + i, text: 'x' });
    if (e.later) schedule(60000, { type: 'check', for: i });
    return s + 1;
  }`;

  it('records each effect once with a stable id; history before a new reducer is suppressed', async () => {
    const streamId = await newStream([{ notify: true }, {}]);
    await upsertReducer({ streamId, name: 'fx', code, initialState: 0 });
    await appendEvents({ streamId, bodies: [{ notify: true, mail: true }, { later: true }] });
    await foldStream({ streamId });
    await foldStream({ streamId });
    const rows = await db().effect.findMany({ where: { streamId }, orderBy: [{ eventIndex: 'asc' }, { ordinal: 'asc' }] });
    expect(rows.map((r) => [r.eventIndex, r.ordinal, r.kind, r.status])).toEqual([
      [0, 0, 'webhook', 'suppressed'],
      [2, 0, 'webhook', 'pending'],
      [2, 1, 'email', 'pending'],
      [3, 0, 'timer', 'pending'],
    ]);
    const timer = rows[3];
    const received = (await db().event.findUniqueOrThrow({ where: { streamId_index: { streamId, index: 3 } } })).receivedAt;
    expect(new Date((timer.payload as { dueAt: string }).dueAt).getTime()).toBe(received.getTime() + 60_000);
    expect(new Set(rows.map((r) => r.id)).size).toBe(4);
  });

  it('a replay reaches the same state, keeps the old state readable meanwhile, and records no new live effects', async () => {
    const streamId = await newStream([]);
    await upsertReducer({ streamId, name: 'fx', code, initialState: 0 });
    await appendEvents({ streamId, bodies: [{ notify: true }, { mail: true }, {}] });
    await foldStream({ streamId });
    const before = await state(streamId, 'fx');
    const pendingBefore = await db().effect.count({ where: { streamId, status: 'pending' } });
    expect(pendingBefore).toBe(2);

    const r = await db().reducer.findFirstOrThrow({ where: { streamId } });
    await replayReducer({ streamId, reducerId: r.id });
    const during = await state(streamId, 'fx');
    expect(during.state).toBe(before.state);
    expect(during.replay).toEqual({ version: 2, folded: 0, until: 3 });

    await foldStream({ streamId });
    const after = await state(streamId, 'fx');
    expect(after).toMatchObject({ state: 3, folded: 3, version: 2, replay: null });
    expect(await db().effect.count({ where: { streamId, status: 'pending' } })).toBe(pendingBefore);
    expect(await db().effect.count({ where: { streamId, version: 2, status: 'suppressed' } })).toBe(2);

    // After the replay, new events are live again and their effects go out.
    await appendEvents({ streamId, bodies: [{ notify: true }] });
    await foldStream({ streamId });
    expect(await db().effect.count({ where: { streamId, version: 2, status: 'pending' } })).toBe(1);
  });
});
