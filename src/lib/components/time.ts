// The one way timestamps are shown: relative ("3 min ago") with the absolute time on hover.
type When = Date | string | number | null | undefined;

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ['year', 365 * 24 * 3600],
  ['month', 30 * 24 * 3600],
  ['week', 7 * 24 * 3600],
  ['day', 24 * 3600],
  ['hour', 3600],
  ['minute', 60],
  ['second', 1],
];
const rtf = new Intl.RelativeTimeFormat('en', { numeric: 'auto', style: 'short' });

/** "just now", "12 sec. ago", "in 5 min.", "yesterday"; "—" for no time. */
export function relativeTime(when: When, now = Date.now()): string {
  if (when === null || when === undefined) return '—';
  const seconds = Math.round((new Date(when).getTime() - now) / 1000);
  if (Math.abs(seconds) < 5) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === 'second') return rtf.format(Math.trunc(seconds / size), unit);
  }
  return '—';
}

/** The exact time in the reader's time zone (UTC when rendered on the server). */
export function absoluteTime(when: When, timeZone?: string): string {
  if (when === null || when === undefined) return '';
  return new Date(when).toLocaleString('en-GB', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZone,
    timeZoneName: 'short',
  });
}

/** A duration in seconds as "45 s", "3 min 20 s", "2 h 5 min". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 60) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}
