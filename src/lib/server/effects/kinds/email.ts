// `email({ to, subject, text, html, replyTo })`: sent through SMTP, or kept in the team's outbox.
// The sender is never the reducer's to choose: it is the team's verified sender or Pipet's own.
import { z } from 'zod';
import { address, dueNow, parseArgs, singleLine, type EffectSpec } from './define.ts';

const Address = z.string().max(320);
/** No `from`: the sender is the team's, never the reducer's. */
export const EmailPayload = z.strictObject({
  to: z.union([Address, z.array(Address).min(1).max(50)]),
  subject: z.string().min(1).max(998),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  replyTo: Address.optional(),
});
export type EmailPayload = z.infer<typeof EmailPayload>;

const Message = z.object(
  {
    to: z.union([
      z.array(address('to[]')).min(1, 'to must list 1 to 50 addresses').max(50, 'to must list 1 to 50 addresses'),
      address('to'),
    ], { error: 'to must be an email address string like "ada@example.com" or "Ada <ada@example.com>", or a list of them' }),
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
  summary: (p) => `to ${Array.isArray(p.to) ? p.to.join(', ') : p.to}: ${p.subject}`,
};
