import { describe, expect, it } from 'vitest';
import { atIndex, lengthNeededFor, sliceRange } from '../../src/lib/server/streams/slice-range.ts';

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
