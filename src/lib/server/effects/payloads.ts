// The payloads reducers' effects carry (Effect.payload), validated again before delivery: a row is
// data from the database, not a promise about its shape.
import { z } from 'zod';
import { EmailInput } from './send-email.ts';

export const WebhookPayload = z.object({
  url: z.string().min(1).max(4096),
  method: z.string().regex(/^[A-Za-z]+$/).max(16).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.unknown().optional(),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

export const EmailPayload = EmailInput;

export const TimerPayload = z.object({
  dueAt: z.iso.datetime({ offset: true }),
  event: z.unknown(),
});
export type TimerPayload = z.infer<typeof TimerPayload>;
