import { describe, expect, it } from 'vitest';
import { atIndex, cutSlice, lengthNeededFor, nextChunkCount, sliceRange } from '../../src/lib/server/streams/slice-range.ts';

describe('sliceRange matches Array.prototype.slice', () => {
  const array = Array.from({ length: 10 }, (_, i) => i);
  const cases: [number | undefined, number | undefined][] = [
    [undefined, undefined], [0, 10], [2, 5], [-3, undefined], [-3, -1], [5, 2], [-20, 3], [8, 100], [10, undefined], [0, -20], [undefined, -2],
  ];
  it.each(cases)('slice(%s, %s)', (start, end) => {
    const r = sliceRange(array.length, start, end, 1000);
    expect(array.slice(r.start, r.end)).toEqual(array.slice(start, end));
    expect(r.next).toBeNull();
  });

  it('pages with a limit and says where the next page starts', () => {
    expect(sliceRange(10, 0, undefined, 4)).toEqual({ start: 0, end: 4, next: 4 });
    expect(sliceRange(10, 4, undefined, 4)).toEqual({ start: 4, end: 8, next: 8 });
    expect(sliceRange(10, 8, undefined, 4)).toEqual({ start: 8, end: 10, next: null });
    expect(sliceRange(10, -5, -1, 2)).toEqual({ start: 5, end: 7, next: 7 });
  });
});

describe('atIndex matches Array.prototype.at', () => {
  const array = ['a', 'b', 'c'];
  it.each([0, 1, 2, 3, -1, -3, -4, 100])('at(%s)', (i) => {
    const abs = atIndex(array.length, i);
    expect(abs === null ? undefined : array[abs]).toEqual(array.at(i));
  });
  it('knows the length an index needs', () => {
    expect(lengthNeededFor(0)).toBe(1);
    expect(lengthNeededFor(4)).toBe(5);
    expect(lengthNeededFor(-1)).toBe(1);
    expect(lengthNeededFor(-3)).toBe(3);
  });
});

describe('a slice bounded in bytes', () => {
  it.each([
    // start, end, first index past the bound, where the page ends
    [0, 100, null, 100], // all of it fits
    [0, 100, 40, 40], // stops before the event that passes the bound
    [10, 100, 10, 11], // the first event alone passes it: still answered
    [10, 100, 11, 11],
    [10, 12, 50, 12], // never past the asked end
  ])('slice [%s, %s) with event %s past the bound ends at %s', (start, end, over, cut) => {
    expect(cutSlice(start, end, over)).toBe(cut);
  });

  it('reads chunks of about the target size, judged by what was read so far', () => {
    const target = 1024 * 1024;
    expect(nextChunkCount({ read: 0, bytes: 0, left: 1000, targetBytes: target })).toBe(8);
    expect(nextChunkCount({ read: 8, bytes: 8 * 250_000, left: 992, targetBytes: target })).toBe(4); // big events: a few at a time
    expect(nextChunkCount({ read: 8, bytes: 8 * 20_000_000, left: 992, targetBytes: target })).toBe(1); // never zero
    expect(nextChunkCount({ read: 8, bytes: 8 * 100, left: 992, targetBytes: target })).toBe(500); // small events: capped per query
    expect(nextChunkCount({ read: 8, bytes: 8 * 100, left: 3, targetBytes: target })).toBe(3); // never past the end
  });
});
