// `schedule(delay, event, { key })`: after `delay` (ms, or an ISO date) `event` is appended to this
// stream, so time passing is itself an event in the log and replays stay faithful. With a `key`, a
// later schedule() or cancel() with the same key in this reducer replaces it (a debounce). A timer
// is due at most TIMER_MAX_DELAY_MS (one year by default) after the event that schedules it.
import { z } from 'zod';
import { env } from '../../env.ts';
import { parseArgs, type EffectSpec } from './define.ts';

export const TimerKey = z.string({ error: 'options.key must be a string' }).min(1, 'options.key must not be empty').max(200, 'options.key must be at most 200 characters');

export const TimerPayload = z.object({
  dueAt: z.iso.datetime({ offset: true }),
  event: z.unknown(),
  key: TimerKey.optional(),
});
export type TimerPayload = z.infer<typeof TimerPayload>;

const ISO = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;
const DELAY_HELP = 'delay must be milliseconds or an ISO date string such as "2026-12-24T18:00:00Z"';

/** The due time of a delay: milliseconds after `now`, or an ISO date. */
function dueTime(delay: unknown, now: number): number | string {
  if (typeof delay === 'number') return Number.isFinite(delay) && delay >= 0 ? now + delay : 'delay must be a number of milliseconds >= 0';
  if (typeof delay === 'string') return ISO.test(delay) && Number.isFinite(Date.parse(delay)) ? Date.parse(delay) : DELAY_HELP;
  return DELAY_HELP;
}

/** 31536000000 → "365 days", 90000 → "90 seconds": the bound as a person reads it. */
export function describeMs(ms: number): string {
  const units: [number, string][] = [[86_400_000, 'day'], [3_600_000, 'hour'], [60_000, 'minute'], [1_000, 'second']];
  const [size, name] = units.find(([size]) => ms % size === 0) ?? [1, 'millisecond'];
  const n = ms / size;
  return `${n} ${name}${n === 1 ? '' : 's'}`;
}

const signature = { name: 'schedule', params: ['delay', 'event', 'options'] } as const;

const Options = z.object({ key: TimerKey.optional() }, { error: 'options must be an object { key }' }).nullish();

export const timer: EffectSpec<TimerPayload> = {
  kind: 'timer',
  signature,
  record(args, { now }) {
    const refuse = (message: string) => parseArgs({ signature }, z.never({ error: message }), {});
    const due = dueTime(args.delay, now);
    if (typeof due === 'string') return refuse(due);
    if (!('event' in args)) return refuse('event is required (any JSON value)');
    const at = new Date(due);
    if (!Number.isFinite(at.getTime())) return refuse('the due date is out of range');
    const max = env().TIMER_MAX_DELAY_MS;
    if (due - now > max) return refuse(`delay must be at most ${describeMs(max)} (TIMER_MAX_DELAY_MS); ${at.toISOString()} is further away`);
    const key = parseArgs({ signature }, z.object({ options: Options }), { options: args.options }).options?.key;
    return { dueAt: at.toISOString(), event: args.event as z.infer<typeof TimerPayload>['event'], ...(key ? { key } : {}) };
  },
  payload: TimerPayload,
  queue: 'timers',
  dueAt: (p) => new Date(p.dueAt),
  summary: (p) => `append at ${p.dueAt}${p.key ? ` (key ${p.key})` : ''}`,
  keyOf: (p) => p.key ?? null,
};
