// The one email path (reducer `email()` effects, invites): SMTP through nodemailer when SMTP_URL
// is set, else the message is stored in the team's outbox (EmailMessage rows) for the UI and API.
// The sender is never the caller's to choose (see email-sender.ts), and each team has a quota.
import nodemailer, { type Transporter } from 'nodemailer';
import { z } from 'zod';
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { ADDRESS } from './kinds/define.ts';
import { formatMailbox } from './email-sender.ts';
import { teamEmailSender } from './sender-domains.ts';

// "ada@example.com" or "Ada <ada@example.com>", as reducers may write them.
const Address = z.string().max(320).regex(ADDRESS, 'Use an address like "ada@example.com" or "Ada <ada@example.com>".');

export const EmailInput = z.object({
  to: z.union([Address, z.array(Address).min(1).max(50)]).transform((v) => (Array.isArray(v) ? v.join(', ') : v)),
  subject: z.string().min(1).max(998).regex(/^[^\r\n]*$/, 'The subject is one line.'),
  text: z.string().max(1_000_000).optional(),
  html: z.string().max(1_000_000).optional(),
  replyTo: Address.optional(),
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
  // By (teamId, …): EmailMessage is distributed by team on Citus, so every statement here is one shard.
  const existing = effectId ? await db.emailMessage.findUnique({ where: { teamId_effectId: { teamId, effectId } } }) : null;
  if (existing?.status === 'sent') return { id: existing.id, status: 'sent' };
  const team = await db.team.findUniqueOrThrow({ where: { id: teamId }, select: { id: true, name: true, emailFrom: true, emailQuotaPerDay: true } });
  const sender = await teamEmailSender(team, db);
  const from = formatMailbox(sender.from);
  const replyTo = parsed.replyTo ?? sender.replyTo ?? undefined;
  // A retry of an email already counted (its row exists) is not counted again.
  if (!existing) await checkQuota(teamId, team.emailQuotaPerDay ?? env().EMAIL_QUOTA_PER_DAY, db);
  const data = { teamId, effectId, from, to: parsed.to, subject: parsed.subject, text: parsed.text, html: parsed.html, replyTo };
  const row = existing
    ? await db.emailMessage.update({ where: { teamId_id: { teamId, id: existing.id } }, data: { from, replyTo: replyTo ?? null } })
    : effectId
      ? await db.emailMessage.upsert({ where: { teamId_effectId: { teamId, effectId } }, create: data, update: {} })
      : await db.emailMessage.create({ data });
  if (row.status === 'sent') return { id: row.id, status: 'sent' };
  const transporter = smtp();
  if (!transporter) return { id: row.id, status: 'stored' };
  try {
    const info = await transporter.sendMail({ from: sender.from, to: parsed.to, subject: parsed.subject, text: parsed.text, html: parsed.html, replyTo });
    await db.emailMessage.update({ where: { teamId_id: { teamId, id: row.id } }, data: { status: 'sent', sentAt: new Date(), error: null } });
    return { id: row.id, status: 'sent', messageId: info.messageId };
  } catch (error) {
    await db.emailMessage.update({ where: { teamId_id: { teamId, id: row.id } }, data: { status: 'failed', error: (error as Error).message.slice(0, 1000) } });
    throw error;
  }
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Refuses an email over the team's quota: emails stored or sent in the last 24 hours. Counted
 * before each new email, so sends racing each other may overshoot by a few.
 */
async function checkQuota(teamId: string, quota: number, db: DbTx): Promise<void> {
  const sent = await db.emailMessage.count({ where: { teamId, createdAt: { gt: new Date(Date.now() - DAY_MS) } } });
  if (sent >= quota) {
    throw new AppError(
      'rate_limited',
      `This team's email quota is used up: ${sent} of ${quota} emails in the last 24 hours. Nothing was sent; retry this effect later (effect.retry), or ask the operator for a higher quota (EMAIL_QUOTA_PER_DAY).`,
    );
  }
}
