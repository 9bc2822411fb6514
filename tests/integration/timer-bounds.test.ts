// Issue 23: timers are bounded. At most TIMERS_PENDING_PER_REDUCER / TIMERS_PENDING_PER_TEAM wait to
// fire (a batch that would leave more stops its reducer at that event, with the limit named), a
// schedule() further than TIMER_MAX_DELAY_MS (one year) is refused, and a reducer's or stream's
// pending timers go with it when it is deleted.
import { describe, expect, it } from 'vitest';
import { makeStream, makeTeam, uniqueSlug, useOwnDatabase } from '../helpers/context.ts';

Object.assign(process.env, { TIMERS_PENDING_PER_REDUCER: '5', TIMERS_PENDING_PER_TEAM: '8' });
await useOwnDatabase('timerbounds');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { deliverEffect } = await import('../../src/lib/server/effects/deliver-effect.ts');

const HOUR = 3_600_000;
// Schedules `e.timers` timers an hour away; with `e.key`, one keyed timer instead (a debounce).
const SCHEDULER = `(n, e) => {
  if (e.key) schedule(${HOUR}, { wake: e.key }, { key: e.key });
  for (let i = 0; i < (e.timers ?? 0); i++) schedule(${HOUR}, { wake: i });
  return n + 1;
}`;

/** A reducer on a new stream (of a new team unless given: the team bound counts across tests otherwise). */
async function reducerOn(teamId?: string, code = SCHEDULER) {
  teamId ??= (await makeTeam(db())).id;
  const stream = await makeStream(db(), { teamId, slug: uniqueSlug('t'), name: 't' });
  await upsertReducer({ streamId: stream.id, name: 'r', code, initialState: 0 });
  const reducer = await db().reducer.findFirstOrThrow({ where: { streamId: stream.id } });
  return { streamId: stream.id, slug: stream.slug, reducerId: reducer.id };
}

async function feed(streamId: string, bodies: unknown[]) {
  await appendEvents({ streamId, bodies });
  await foldStream({ streamId });
  return db().reducerState.findFirstOrThrow({ where: { streamId } });
}

const pendingTimers = (where: { streamId?: string; teamId?: string }) => db().effect.count({ where: { ...where, kind: 'timer', status: 'pending' } });

describe('pending timers per reducer', () => {
  it('stop the reducer at the event that would cross the bound, naming it', async () => {
    const { streamId } = await reducerOn();
    const state = await feed(streamId, [{ timers: 3 }, { timers: 1 }, { timers: 2 }, { timers: 0 }]);
    // 3 + 1 fit under 5; the third event's second timer would be the sixth.
    expect(state).toMatchObject({ status: 'errored', cursor: 2, errorIndex: 2, state: 2 });
    expect(state.errorMessage).toMatch(/more than 5 timers of this reducer waiting to fire.*TIMERS_PENDING_PER_REDUCER/);
    expect(await pendingTimers({ streamId })).toBe(4);
    // Nothing of the stopped event was kept: its timers come only when it folds again.
    expect(await db().effect.count({ where: { streamId, eventIndex: { gte: 2 } } })).toBe(0);
  });

  it('count a keyed timer that replaces its key once: a debounce at the bound goes on', async () => {
    const { streamId } = await reducerOn();
    const users = ['ada', 'bob', 'cy', 'dee', 'eve'];
    await feed(streamId, users.map((key) => ({ key })));
    // The same five keys again and again, in one batch and across batches: still five pending.
    const again = await feed(streamId, [...users, ...users].map((key) => ({ key })));
    expect(again).toMatchObject({ status: 'active', cursor: 15 });
    expect(await pendingTimers({ streamId })).toBe(5);
    const sixth = await feed(streamId, [{ key: 'fay' }]);
    expect(sixth).toMatchObject({ status: 'errored', errorIndex: 15 });
  });
});

describe('pending timers of a keyed reducer', () => {
  it('count one per key and stop at the key that would cross the bound, its keys unchanged', async () => {
    const own = await makeTeam(db());
    const stream = await makeStream(db(), { teamId: own.id, slug: uniqueSlug('k'), name: 'k' });
    await upsertReducer({ streamId: stream.id, name: 'r', code: `(s, e) => { schedule(${HOUR}, { check: e.user }, { key: 'check' }); return s + 1; }`, keyBy: '(e) => e.user', initialState: 0 });
    const users = ['ada', 'bob', 'cy', 'dee', 'eve', 'fay', 'gus'];
    // Each user's `check` is its own timer; seen again, a user's timer is replaced, not added.
    const state = await feed(stream.id, [...users.slice(0, 5), 'ada', 'bob', ...users.slice(5)].map((user) => ({ user })));
    expect(state).toMatchObject({ status: 'errored', cursor: 7, errorIndex: 7 });
    expect(state.errorMessage).toMatch(/TIMERS_PENDING_PER_REDUCER/);
    expect(await pendingTimers({ streamId: stream.id })).toBe(5);
    const keys = await db().keyedState.findMany({ where: { streamId: stream.id }, orderBy: { key: 'asc' } });
    expect(keys.map((k) => [k.key, k.state])).toEqual([['ada', 2], ['bob', 2], ['cy', 1], ['dee', 1], ['eve', 1]]);
  });
});

describe('pending timers per team', () => {
  it('count every reducer of the team', async () => {
    const own = await makeTeam(db());
    const a = await reducerOn(own.id);
    const b = await reducerOn(own.id);
    expect(await feed(a.streamId, [{ timers: 5 }])).toMatchObject({ status: 'active', cursor: 1 });
    const state = await feed(b.streamId, [{ timers: 2 }, { timers: 2 }]);
    expect(state).toMatchObject({ status: 'errored', cursor: 1, errorIndex: 1 });
    expect(state.errorMessage).toMatch(/more than 8 timers of this team waiting to fire.*TIMERS_PENDING_PER_TEAM/);
    expect(await pendingTimers({ teamId: own.id })).toBe(7);
  });
});

describe('the delay of a timer', () => {
  it('is at most a year: a schedule() into 2058 stops the reducer with the reason', async () => {
    const { streamId } = await reducerOn(undefined, `(n, e) => { schedule(e.at, 'later'); return n + 1; }`);
    const inAYear = new Date(Date.now() + 364 * 24 * HOUR).toISOString();
    const state = await feed(streamId, [{ at: inAYear }, { at: '2058-01-01T00:00:00Z' }]);
    expect(state).toMatchObject({ status: 'errored', errorIndex: 1, cursor: 1 });
    expect(state.errorMessage).toMatch(/schedule\(delay, event, options\): delay must be at most 365 days \(TIMER_MAX_DELAY_MS\)/);
    expect(await pendingTimers({ streamId })).toBe(1);
  });
});

describe('deleting', () => {
  async function owner() {
    const user = await db().user.create({ data: { email: `${uniqueSlug('owner')}@example.com`, passwordHash: 'x' } });
    const own = await makeTeam(db());
    await db().membership.create({ data: { teamId: own.id, userId: user.id, role: 'owner' } });
    return { team: own, api: createCaller({ db: db(), caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress: 'test' }) };
  }

  it('a reducer removes its pending timers: none fires', async () => {
    const { team: own, api } = await owner();
    const r = await reducerOn(own.id);
    await feed(r.streamId, [{ timers: 4 }]);
    const ids = (await db().effect.findMany({ where: { streamId: r.streamId, kind: 'timer' } })).map((e) => e.id);
    expect(ids).toHaveLength(4);
    await api.reducer.delete({ team: own.slug, stream: r.slug, name: 'r' });
    expect(await pendingTimers({ teamId: own.id })).toBe(0);
    // A job left in the queue finds nothing to fire.
    expect(await deliverEffect({ streamId: r.streamId, effectId: ids[0] })).toEqual({ outcome: 'missing' });
    // The bound counts what is left: the team may schedule 5 more (4 + 5 would cross its 8).
    const again = await reducerOn(own.id);
    expect(await feed(again.streamId, [{ timers: 5 }])).toMatchObject({ status: 'active' });
  });

  it('a stream removes its reducers’ pending timers', async () => {
    const { team: own, api } = await owner();
    const r = await reducerOn(own.id);
    await feed(r.streamId, [{ timers: 4 }]);
    expect(await pendingTimers({ teamId: own.id })).toBe(4);
    await api.stream.delete({ team: own.slug, stream: r.slug, confirm: r.slug });
    expect(await pendingTimers({ teamId: own.id })).toBe(0);
  });
});
