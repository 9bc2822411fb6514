// Time travel: the state right after any folded event, from the nearest snapshot, with each event
// folded by the code of the version that folded it live; and an effect explained by its event and
// the states around it.
import { beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useOwnDatabase, makeStream } from '../helpers/context.ts';

process.env.REDUCER_SNAPSHOT_EVERY = '10';
// A heavy reducer's events must not fail on the per-event cap on a busy machine: the call's budget is what cuts it.
process.env.SANDBOX_CPU_MS_PER_EVENT = '2000';
process.env.INTERACTIVE_CPU_MS = '1500';
await useOwnDatabase('travel');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer, replayReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { stateAt } = await import('../../src/lib/server/reducers/state-at.ts');
const { explainEffect } = await import('../../src/lib/server/effects/explain-effect.ts');
const { interactiveCall } = await import('../../src/lib/server/reducers/interactive-call.ts');

let team: { id: string; slug: string };
beforeAll(async () => {
  team = await makeTeam(db());
});

/** Folds until caught up (a fold job stops after its time budget and queues the next). */
async function foldAll(streamId: string) {
  while ((await foldStream({ streamId })).more);
}

async function setUp(n: number) {
  const s = await makeStream(db(), { teamId: team.id, slug: uniqueSlug('tt'), name: 'tt' });
  await appendEvents({ streamId: s.id, bodies: Array.from({ length: n }, (_, v) => ({ v })) });
  await upsertReducer({ streamId: s.id, name: 'sum', code: '(s, e) => s + e.v', initialState: 0 });
  await foldAll(s.id);
  const reducer = await db().reducer.findFirstOrThrow({ where: { streamId: s.id } });
  const ref = { id: s.id, slug: s.slug, team: team.slug, teamId: team.id };
  const at = async (index: number) => JSON.parse((await stateAt({ stream: ref, reducerId: reducer.id, index })).stateJson) as number;
  return { stream: s, reducer, ref, at };
}
const sumTo = (i: number) => (i * (i + 1)) / 2; // 0 + 1 + … + i

describe('state as of any event', () => {
  it('answers from snapshots every REDUCER_SNAPSHOT_EVERY events, for every index', async () => {
    const { reducer, at } = await setUp(35);
    const snaps = await db().reducerSnapshot.findMany({ where: { reducerId: reducer.id }, orderBy: { folded: 'asc' } });
    expect(snaps.map((s) => [s.folded, s.state])).toEqual([[10, sumTo(9)], [20, sumTo(19)], [30, sumTo(29)]]);
    for (let i = 0; i < 35; i++) expect(await at(i)).toBe(sumTo(i));
    await expect(at(35)).rejects.toMatchObject({ code: 'conflict' }); // not folded yet
  });

  it('folds each event with the version that folded it: new code "from here", then a replay', async () => {
    const { stream, reducer, at } = await setUp(25);
    await upsertReducer({ streamId: stream.id, name: 'sum', code: '(s, e) => s + 2 * e.v', initialState: 0 });
    await appendEvents({ streamId: stream.id, bodies: Array.from({ length: 12 }, (_, k) => ({ v: 25 + k })) });
    await foldAll(stream.id);
    const expected = (i: number) => (i < 25 ? sumTo(i) : sumTo(24) + 2 * (sumTo(i) - sumTo(24)));
    for (let i = 0; i < 37; i++) expect(await at(i), `event ${i}`).toBe(expected(i));

    await replayReducer({ streamId: stream.id, reducerId: reducer.id });
    await foldAll(stream.id);
    for (let i = 0; i < 37; i++) expect(await at(i), `event ${i} after the replay`).toBe(2 * sumTo(i));
  });

  it('explains an effect: the event that caused it and the states around it', async () => {
    const s = await makeStream(db(), { teamId: team.id, slug: uniqueSlug('why'), name: 'why' });
    await appendEvents({ streamId: s.id, bodies: Array.from({ length: 23 }, (_, v) => ({ v, user: `u${v}` })) });
    await upsertReducer({
      streamId: s.id,
      name: 'mailer',
      code: '(s, e) => { const next = { total: s.total + e.v }; if (next.total > 200 && s.total <= 200) email({ to: "ops@example.com", subject: "over 200 at " + e.user }); return next; }',
      initialState: { total: 0 },
    });
    await foldAll(s.id);
    const effect = await db().effect.findFirstOrThrow({ where: { streamId: s.id, kind: 'email' } });
    expect(effect.eventIndex).toBe(20); // 0 + … + 20 = 210
    const cause = await explainEffect({ streamId: s.id, reducerId: effect.reducerId, version: effect.version, eventIndex: effect.eventIndex });
    expect(cause).toMatchObject({ version: 1, event: { index: 20, body: { v: 20, user: 'u20' } }, stateBefore: { total: 190 }, stateAfter: { total: 210 } });
  });
});

// About 30-40 ms of CPU per event in QuickJS.
const HEAVY = '(s, e) => { let x = 0; for (let i = 0; i < 500000; i++) x += i % 7; return s + 1 }';

describe('time travel within a budget', () => {
  it('stops an ?at= whose fold from the nearest snapshot would outrun INTERACTIVE_CPU_MS, with an error that says what to do', { timeout: 120_000 }, async () => {
    const s = await makeStream(db(), { teamId: team.id, slug: uniqueSlug('far'), name: 'far' });
    await appendEvents({ streamId: s.id, bodies: Array.from({ length: 3000 }, (_, v) => ({ v })) });
    await upsertReducer({ streamId: s.id, name: 'heavy', code: HEAVY, initialState: 0 });
    const reducer = await db().reducer.findFirstOrThrow({ where: { streamId: s.id } });
    // Folded live long ago, no snapshot kept: the state at event 2999 means folding 3,000 heavy events (~100 s).
    await db().reducerState.update({ where: { streamId_reducerId: { streamId: s.id, reducerId: reducer.id } }, data: { cursor: 3000 } });
    const ref = { id: s.id, slug: s.slug, team: team.slug, teamId: team.id };

    const started = performance.now();
    const error = await interactiveCall({ teamId: team.id }, (budget) => stateAt({ stream: ref, reducerId: reducer.id, index: 2999, budget })).then(
      () => null,
      (e: unknown) => e,
    );
    const ms = performance.now() - started;
    expect(error).toMatchObject({ code: 'conflict' });
    const message = (error as Error).message;
    expect(message).toMatch(/Time travel to event 2999 was stopped after \d+ ms of sandbox CPU \(the limit per call is 1500 ms, INTERACTIVE_CPU_MS\)/);
    expect(message).toMatch(/it had folded \d+ of the 3000 events from the nearest snapshot\. Ask for an event nearer a snapshot/);
    const spent = Number(/after (\d+) ms/.exec(message)![1]);
    // Cut within a slice (SANDBOX_SLICE_MS, 200 ms) of the budget.
    expect(spent).toBeGreaterThanOrEqual(1500);
    expect(spent).toBeLessThan(1500 + 400);
    console.log(`time travel over 3,000 heavy events: stopped after ${spent} ms of sandbox CPU, ${Math.round(ms)} ms in all`);

    // A near event of the same reducer is within the budget.
    expect(JSON.parse((await interactiveCall({ teamId: team.id }, (budget) => stateAt({ stream: ref, reducerId: reducer.id, index: 4, budget }))).stateJson)).toBe(5);
  });
});
