// A worker's slots among teams: a busy team alone uses nearly all of them, a newcomer always finds one.
import { describe, expect, it } from 'vitest';
import { TeamSlots } from '../../src/lib/server/queue/team-slots.ts';

describe('TeamSlots', () => {
  it('lets one busy team use every slot but the reserve, and keeps the reserve for other teams', () => {
    const slots = new TeamSlots(2, 8);
    const a = Array.from({ length: 6 }, () => slots.tryAcquire('a'));
    expect(a.every(Boolean)).toBe(true);
    expect(slots.tryAcquire('a')).toBeNull(); // 2 free: the reserve
    const b1 = slots.tryAcquire('b');
    const b2 = slots.tryAcquire('b');
    expect([b1, b2].every(Boolean)).toBe(true); // b's share comes out of the reserve
    expect(slots.tryAcquire('b')).toBeNull();
    expect(slots.tryAcquire('c')).not.toBeNull(); // its share, even now (the pool may be over-committed by shares only)
    a[0]!();
    a[0]!(); // releasing twice counts once
    expect(slots.heldBy('a')).toBe(5);
  });

  it('keeps two busy teams from leaving a third without a slot', () => {
    const slots = new TeamSlots(2, 8);
    let a = 0;
    let b = 0;
    for (let i = 0; i < 8; i++) {
      if (slots.tryAcquire('a')) a++;
      if (slots.tryAcquire('b')) b++;
    }
    expect(a + b).toBeLessThanOrEqual(6);
    expect(slots.tryAcquire('newcomer')).not.toBeNull();
  });
});
