// Array.prototype.slice / .at arithmetic over a stream's length. Pure.

export type SliceRange = { start: number; end: number; next: number | null };

function relative(value: number, length: number): number {
  return value < 0 ? Math.max(length + value, 0) : Math.min(value, length);
}

/** Resolves slice(start, end) on an array of `length`, capped at `limit` elements per page. */
export function sliceRange(length: number, start: number | undefined, end: number | undefined, limit: number): SliceRange {
  const from = relative(start ?? 0, length);
  const to = Math.max(from, relative(end ?? length, length));
  const capped = Math.min(to, from + limit);
  return { start: from, end: capped, next: capped < to ? capped : null };
}

/** The absolute index of `.at(index)`, or null when out of range. */
export function atIndex(length: number, index: number): number | null {
  const absolute = index < 0 ? length + index : index;
  return absolute >= 0 && absolute < length ? absolute : null;
}

/** The length the stream must reach for `.at(index)` to exist. */
export function lengthNeededFor(index: number): number {
  return index < 0 ? -index : index + 1;
}
