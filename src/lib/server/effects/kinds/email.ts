// `email({ to, subject, text, html, replyTo })`: sent through SMTP, or kept in the team's outbox.
// The sender is never the reducer's to choose: it is the team's verified sender or Pipet's own.
// Every recipient is exactly one address (no lists, groups or names an address list would split),
// at most EMAIL_RECIPIENTS_MAX of them: the daily quotas count recipients.
import { z } from 'zod';
import { env } from '../../env.ts';
import { address, dueNow, parseArgs, singleLine, type EffectSpec } from './define.ts';

/** The most recipients a stored payload may name whatever the setting (EMAIL_RECIPIENTS_MAX is at most this). */
const RECIPIENTS_CEILING = 1000;

/** A list of recipients within EMAIL_RECIPIENTS_MAX, checked when parsed (the setting may change). */
const recipientList = (what: string) =>
  z.array(address(`${what}[]`), { error: `${what} must be an email address string or a list of them` })
    .min(1, `${what} must list at least one address`)
    .max(RECIPIENTS_CEILING, `${what} must list at most ${RECIPIENTS_CEILING} addresses`)
    .refine((list) => list.length <= env().EMAIL_RECIPIENTS_MAX, {
      error: () => `${what} lists too many addresses: an email may have at most ${env().EMAIL_RECIPIENTS_MAX} recipients (EMAIL_RECIPIENTS_MAX)`,
    });

/** No `from`: the sender is the team's, never the reducer's. Validated again before every attempt. */
export const EmailPayload = z.strictObject({
  to: z.union([address('to'), recipientList('to')]),
  subject: z.string().min(1).max(998).regex(/^[^\r\n]*$/, 'The subject is one line.'),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  replyTo: address('replyTo').optional(),
});
export type EmailPayload = z.infer<typeof EmailPayload>;

/** The recipients of a payload, one address each. */
export const recipientsOf = (p: Pick<EmailPayload, 'to'>): string[] => (Array.isArray(p.to) ? p.to : [p.to]);

const TO_HELP = 'to must be an email address string like "ada@example.com" or "Ada <ada@example.com>", or a list of them';
const Message = z.object(
  {
    to: z.union([address('to'), recipientList('to')], { error: TO_HELP }),
    subject: singleLine('subject', 998),
    text: z.string({ error: 'text must be a string' }).nullish(),
    html: z.string({ error: 'html must be a string' }).nullish(),
    replyTo: address('replyTo').nullish(),
  },
  { error: 'expects one object { to, subject, text, html, replyTo }' },
);

const signature = { name: 'email', params: ['message'] } as const;

export const email: EffectSpec<EmailPayload> = {
  kind: 'email',
  signature,
  record(args) {
    const { message } = parseArgs({ signature }, z.object({ message: Message }, { error: 'expects one object' }), args);
    const payload: EmailPayload = { to: message.to, subject: message.subject };
    if (message.text != null) payload.text = message.text;
    if (message.html != null) payload.html = message.html;
    if (message.replyTo != null) payload.replyTo = message.replyTo;
    return payload;
  },
  payload: EmailPayload,
  queue: 'deliver',
  dueAt: dueNow,
  summary: (p) => `to ${recipientsOf(p).join(', ')}: ${p.subject}`,
};
