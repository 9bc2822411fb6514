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

/**
 * Where a slice [start, end) stops so that its JSON stays within a byte bound: `over` is the first
 * index whose running size passes the bound (null when none does). The first event is always
 * answered, however large; the rest go to the next page.
 */
export function cutSlice(start: number, end: number, over: number | null): number {
  if (over === null) return end;
  return Math.min(end, Math.max(start + 1, over));
}

/** How many events the next chunk read asks for: about `targetBytes`, judged by the events read so far. */
export function nextChunkCount({ read, bytes, left, targetBytes }: { read: number; bytes: number; left: number; targetBytes: number }): number {
  const FIRST = 8;
  const MAX = 500;
  const guess = read === 0 ? FIRST : Math.floor(targetBytes / Math.max(1, bytes / read));
  return Math.max(1, Math.min(left, MAX, guess));
}
