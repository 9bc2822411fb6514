// Where a batch's timers cross the pending-timer bounds (reducers/timer-bounds.ts), table-tested.
import { describe, expect, it } from 'vitest';
import { firstCrossing, type BoundedEffect } from '../../src/lib/server/reducers/timer-bounds.ts';

const timer = (eventIndex: number, key: string | null = null, live = true): BoundedEffect => ({ kind: 'timer', eventIndex, key, live });
const cancel = (eventIndex: number, key: string): BoundedEffect => ({ kind: 'cancel', eventIndex, key, live: true });
const webhook = (eventIndex: number): BoundedEffect => ({ kind: 'webhook', eventIndex, key: null, live: true });
const none = { reducer: 0, team: 0, pendingKeys: new Set<string>() };
const limits = { reducer: 3, team: 5 };

describe('firstCrossing', () => {
  it.each<[string, BoundedEffect[], typeof none, number | null, RegExp | null]>([
    ['fits exactly', [timer(0), timer(1), timer(1)], none, null, null],
    ['the fourth timer crosses the reducer bound at its event', [timer(0), timer(1), timer(1), timer(2)], none, 2, /TIMERS_PENDING_PER_REDUCER/],
    ['stored timers count', [timer(7)], { ...none, reducer: 3, team: 3 }, 7, /more than 3 timers of this reducer/],
    ['the team bound, with room in the reducer', [timer(4), timer(5)], { ...none, reducer: 0, team: 4 }, 5, /more than 5 timers of this team.*TIMERS_PENDING_PER_TEAM/],
    ['suppressed history counts nothing', [timer(0, null, false), timer(1, null, false), timer(2, null, false), timer(3, null, false)], none, null, null],
    ['other kinds count nothing', [webhook(0), webhook(1), webhook(2), webhook(3)], { ...none, reducer: 3, team: 3 }, null, null],
    ['a keyed timer replacing a stored one counts once', [timer(0, 'a'), timer(1, 'a'), timer(2, 'b')], { reducer: 3, team: 3, pendingKeys: new Set(['a', 'b']) }, null, null],
    ['a keyed timer replacing one of the batch counts once', [timer(0, 'a'), timer(1, 'a'), timer(2, 'a'), timer(3, 'a')], { ...none, reducer: 2, team: 2 }, null, null],
    ['cancel() makes room', [cancel(0, 'a'), timer(1)], { reducer: 3, team: 3, pendingKeys: new Set(['a']) }, null, null],
    ['cancel() of nothing pending makes none', [cancel(0, 'z'), timer(1)], { reducer: 3, team: 3, pendingKeys: new Set(['a']) }, 1, /reducer/],
  ])('%s', (_name, effects, counts, index, message) => {
    const crossing = firstCrossing(effects, counts, limits);
    expect(crossing?.index ?? null).toBe(index);
    if (message) expect(crossing?.message).toMatch(message);
  });
});
