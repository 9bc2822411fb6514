// The effect kinds, one entry each. Adding a kind: its spec file here, its delivery function in
// ../deliverers.ts, its name in lib/schemas/vocabulary.ts and a migration for the EffectKind enum;
// a kind missing from any of them is a type error.
import type { EffectKind } from '../../../schemas/vocabulary.ts';
import type { EffectSpec } from './define.ts';
import { cancel, type CancelPayload } from './cancel.ts';
import { email, type EmailPayload } from './email.ts';
import { slack, type SlackPayload } from './slack.ts';
import { timer, type TimerPayload } from './timer.ts';
import { webhook, type WebhookPayload } from './webhook.ts';

export type EffectPayloads = { webhook: WebhookPayload; email: EmailPayload; timer: TimerPayload; slack: SlackPayload; cancel: CancelPayload };

export const EFFECT_SPECS = { webhook, email, timer, slack, cancel } satisfies { [K in EffectKind]: EffectSpec<EffectPayloads[K]> };

/** The specs in a fixed order: the sandbox refers to a kind by its position here. */
export const SPEC_LIST: EffectSpec[] = Object.values(EFFECT_SPECS) as EffectSpec[];

export function specOf<K extends EffectKind>(kind: K): EffectSpec<EffectPayloads[K]> {
  return EFFECT_SPECS[kind] as EffectSpec<EffectPayloads[K]>;
}

/** Where an effect's attempts run and when the first is due: one rule for fold, enqueue and sweep. */
export function firstAttemptAt(kind: EffectKind, payload: unknown, recordedAt: Date): Date {
  return specOf(kind).dueAt(payload as never, recordedAt);
}

export type { EffectSpec } from './define.ts';
