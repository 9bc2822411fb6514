// The recipes' reducer semantics, folded here with stubbed request/email/schedule. (node:vm runs our
// own recipe code in tests only; customers' code runs in the sandbox.)
import { describe, expect, it } from 'vitest';
import vm from 'node:vm';
import { stuckUser } from '../../src/lib/server/recipes/stuck-user.ts';
import { formSubmissions } from '../../src/lib/server/recipes/form-submissions.ts';
import { thresholdAlert } from '../../src/lib/server/recipes/threshold-alert.ts';
import { ticTacToe } from '../../src/lib/server/recipes/tic-tac-toe.ts';
import { RECIPES } from '../../src/lib/server/recipes/index.ts';
import type { RecipePlan } from '../../src/lib/server/recipes/recipe.ts';

type Effect = { kind: string; args: unknown[] };

function fold(plan: RecipePlan, events: unknown[]) {
  const effects: Effect[] = [];
  const sandbox = {
    request: (...args: unknown[]) => effects.push({ kind: 'webhook', args }),
    email: (...args: unknown[]) => effects.push({ kind: 'email', args }),
    schedule: (...args: unknown[]) => effects.push({ kind: 'timer', args }),
  };
  const { code, keyBy, initialState, stream } = plan.reducers[0];
  const reducer = vm.runInNewContext(`(${code})`, sandbox) as (s: unknown, e: unknown, i: number, st: object) => unknown;
  const copy = (v: unknown) => JSON.parse(JSON.stringify(v));
  if (keyBy) {
    // A keyed reducer: one state per key, the event's key from keyBy (null passes over it).
    const keyOf = vm.runInNewContext(`(${keyBy})`, {}) as (e: unknown, i: number) => string | null;
    const states = new Map<string, unknown>();
    events.forEach((e, i) => {
      const key = keyOf(copy(e), i);
      if (key === null) return;
      states.set(key, copy(reducer(states.has(key) ? states.get(key) : copy(initialState), copy(e), i, { team: 'acme', name: stream, length: i + 1, key })));
    });
    return { state: Object.fromEntries(states) as any, effects };
  }
  let state = copy(initialState);
  events.forEach((e, i) => {
    state = copy(reducer(state, copy(e), i, { team: 'acme', name: stream, length: i + 1 }));
  });
  return { state, effects };
}

describe('stuck-user', () => {
  const plan = stuckUser.build(stuckUser.params.parse({ hours: 2, doneStep: 'deployed', subject: 'Stuck?' }));

  it('emails a stuck user once, naming the steps done and docs read', () => {
    const { state, effects } = fold(plan, [
      { type: 'signup', user: 'ada', email: 'ada@example.com', name: 'Ada' },
      { type: 'step_completed', user: 'ada', step: 'created project' },
      { type: 'step_completed', user: 'ada', step: 'installed CLI' },
      { type: 'doc_viewed', user: 'ada', doc: 'Quickstart' },
      { type: 'stuck_check', user: 'ada' },
      { type: 'stuck_check', user: 'ada' },
    ]);
    expect(effects[0]).toEqual({ kind: 'timer', args: [7_200_000, { type: 'stuck_check', user: 'ada' }] });
    const emails = effects.filter((e) => e.kind === 'email');
    expect(emails).toHaveLength(1);
    const msg = emails[0].args[0] as { to: string; subject: string; text: string };
    expect(msg).toMatchObject({ to: 'ada@example.com', subject: 'Stuck?' });
    expect(msg.text).toContain('Hi Ada');
    expect(msg.text).toContain('created project and installed CLI');
    expect(msg.text).toContain('You have read Quickstart.');
    expect(state.ada.outcome).toBe('emailed');
  });

  it.each([
    ['support_email', 'not emailed: already reached out (wrote to support)'],
    ['tweet', 'not emailed: already reached out (tweeted)'],
  ])('stays quiet for a user who sent a %s, and says why', (type, outcome) => {
    const { state, effects } = fold(plan, [{ type: 'signup', user: 'bob', email: 'bob@example.com' }, { type, user: 'bob' }, { type: 'stuck_check', user: 'bob' }]);
    expect(effects.filter((e) => e.kind === 'email')).toEqual([]);
    expect(state.bob.outcome).toBe(outcome);
  });

  it('stays quiet for a user who finished setup', () => {
    const { state, effects } = fold(plan, [{ type: 'signup', user: 'cy@example.com' }, { type: 'step_completed', user: 'cy@example.com', step: 'deployed' }, { type: 'stuck_check', user: 'cy@example.com' }]);
    expect(effects.filter((e) => e.kind === 'email')).toEqual([]);
    expect(state['cy@example.com'].outcome).toBe('not emailed: finished setup');
  });

  it('passes over events whose user cannot be a key, instead of stopping', () => {
    const { state } = fold(plan, [
      { type: 'signup', user: 'x'.repeat(513) },
      { type: 'signup', user: 'é'.repeat(257) },
      { type: 'signup', user: { id: 1 } },
      { type: 'signup' },
      'text',
      null,
      { type: 'signup', user: 'é'.repeat(256) },
    ]);
    expect(Object.keys(state)).toEqual(['é'.repeat(256)]);
  });
});

describe('form-submissions', () => {
  it('counts, keeps the latest, and sends one digest per period', () => {
    const plan = formSubmissions.build(formSubmissions.params.parse({ digestTo: 'me@example.com', digestHours: 1 }));
    const { state, effects } = fold(plan, [{ email: 'a@x.io' }, { email: 'b@x.io' }, { _pipet: 'digest' }, { _pipet: 'digest' }, { email: 'c@x.io' }]);
    expect(state).toMatchObject({ count: 3, latest: { index: 4, body: { email: 'c@x.io' } }, pendingCount: 1, digestScheduled: true });
    expect(effects.map((e) => e.kind)).toEqual(['timer', 'email', 'timer']);
    expect((effects[1].args[0] as { text: string }).text).toMatch(/#0 .*a@x\.io[\s\S]*#1 .*b@x\.io/);
  });
});

describe('threshold-alert', () => {
  it('calls the URL once per crossing of a summed field', () => {
    const plan = thresholdAlert.build(thresholdAlert.params.parse({ url: 'https://hooks.example/alert', threshold: 10, field: 'amount' }));
    const { state, effects } = fold(plan, [{ amount: 6 }, { amount: 5 }, { amount: 3 }, { amount: -8 }, { nope: 1 }, { amount: 9 }]);
    expect(effects.map((e) => (e.args[1] as { body: { total: number; index: number } }).body)).toMatchObject([
      { total: 11, index: 1 },
      { total: 15, index: 5 },
    ]);
    expect(state).toMatchObject({ crossings: 2, above: true, total: 15 });
  });
});

describe('tic-tac-toe', () => {
  const plan = ticTacToe.build(ticTacToe.params.parse({}));
  it('plays to a win and rejects illegal moves in state', () => {
    const { state } = fold(plan, [
      { player: 'X', cell: 4 },
      { player: 'X', cell: 0 },
      { player: 'O', cell: 4 },
      { player: 'O', row: 0, col: 0 },
      { player: 'X', cell: 3 },
      { player: 'O', cell: 1 },
      { player: 'X', cell: 5 },
      { player: 'O', cell: 8 },
    ]);
    expect(state.board).toEqual(['O', 'O', null, 'X', 'X', 'X', null, null, null]);
    expect(state.winner).toBe('X');
    expect(state.rejected.map((r: { index: number; reason: string }) => [r.index, r.reason])).toEqual([
      [1, "it is O's turn"],
      [2, 'cell 4 is taken'],
      [7, 'the game is over; send {"type":"reset"} to play again'],
    ]);
  });
});

it('every recipe lists parameters with defaults that build', () => {
  for (const r of RECIPES.filter((x) => x.name !== 'threshold-alert')) expect(r.build(r.params.parse({})).reducers.length).toBeGreaterThan(0);
});
