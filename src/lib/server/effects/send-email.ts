// The one email path (reducer `email()` effects, invites): SMTP through nodemailer when SMTP_URL
// is set, else the message is stored in the team's outbox (EmailMessage rows) for the UI and API.
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { ADDRESS } from './kinds/define.ts';

// "ada@example.com" or "Ada <ada@example.com>", as reducers may write them.
const Address = z.string().max(320).regex(ADDRESS, 'Use an address like "ada@example.com" or "Ada <ada@example.com>".');

export const EmailInput = z.object({
  to: z.union([Address, z.array(Address).min(1).max(50)]).transform((v) => (Array.isArray(v) ? v.join(', ') : v)),
  subject: z.string().min(1).max(998).regex(/^[^\r\n]*$/, 'The subject is one line.'),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  replyTo: Address.optional(),
  from: Address.optional(),
});
export type EmailInput = z.input<typeof EmailInput>;

let transport: Transporter | undefined;
let transportUrl: string | undefined;

function smtp(): Transporter | null {
  const url = env().SMTP_URL;
  if (!url) return null;
  if (!transport || transportUrl !== url) {
    transport = nodemailer.createTransport(url);
    transportUrl = url;
  }
  return transport;
}

export type SendEmailOptions = { teamId: string; email: EmailInput; effectId?: string; db?: DbTx };
export type SendEmailResult = { id: string; status: 'sent' | 'stored'; messageId?: string };

/**
 * Sends (or stores) one email. With `effectId`, a repeat for the same effect reuses its row, so
 * a retried delivery never stores two copies. Throws when the SMTP server refuses or is down; the
 * row then says `failed` with the reason.
 */
export async function sendEmail({ teamId, email, effectId, db = defaultDb() }: SendEmailOptions): Promise<SendEmailResult> {
  const parsed = EmailInput.parse(email);
  const team = await db.team.findUniqueOrThrow({ where: { id: teamId }, select: { emailFrom: true } });
  const from = parsed.from ?? team.emailFrom ?? env().EMAIL_FROM;
  const data = { teamId, effectId, from, to: parsed.to, subject: parsed.subject, text: parsed.text, html: parsed.html, replyTo: parsed.replyTo };
  const row = effectId
    ? await db.emailMessage.upsert({ where: { effectId }, create: data, update: {} })
    : await db.emailMessage.create({ data });
  if (row.status === 'sent') return { id: row.id, status: 'sent' };
  const transporter = smtp();
  if (!transporter) return { id: row.id, status: 'stored' };
  try {
    const info = await transporter.sendMail({ from, to: parsed.to, subject: parsed.subject, text: parsed.text, html: parsed.html, replyTo: parsed.replyTo });
    await db.emailMessage.update({ where: { id: row.id }, data: { status: 'sent', sentAt: new Date(), error: null } });
    return { id: row.id, status: 'sent', messageId: info.messageId };
  } catch (error) {
    await db.emailMessage.update({ where: { id: row.id }, data: { status: 'failed', error: (error as Error).message.slice(0, 1000) } });
    throw error;
  }
}
