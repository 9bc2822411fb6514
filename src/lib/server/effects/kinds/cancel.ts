// `cancel(key)`: drops the reducer's pending timer with this key (see schedule's `{ key }`). A
// directive the fold applies in the same commit as the state, so it is exactly-once and
// replay-safe; it is kept as a row (delivered at once) so the app shows what was cancelled when.
import { z } from 'zod';
import { dueNow, parseArgs, type EffectSpec } from './define.ts';
import { TimerKey } from './timer.ts';

export const CancelPayload = z.object({ key: TimerKey });
export type CancelPayload = z.infer<typeof CancelPayload>;

const signature = { name: 'cancel', params: ['key'] } as const;

export const cancel: EffectSpec<CancelPayload> = {
  kind: 'cancel',
  signature,
  record: (args) => parseArgs({ signature }, z.object({ key: z.string({ error: 'key must be a non-empty string' }).pipe(TimerKey) }), args),
  payload: CancelPayload,
  queue: 'none',
  dueAt: dueNow,
  summary: (p) => `cancel timer ${p.key}`,
  keyOf: (p) => p.key,
};
