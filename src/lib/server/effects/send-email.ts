// The one email path (reducer `email()` effects, invites): SMTP through nodemailer when SMTP_URL
// is set, else the message is stored in the team's outbox (EmailMessage rows) for the UI and API.
// The sender is never the caller's to choose (see email-sender.ts). Each recipient is one parsed
// address handed to nodemailer as an object, so nothing re-parses a string into more recipients;
// the daily quotas, per team and per account, count recipients.
import { smtpTransport } from './smtp.ts';
import { z } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { env } from '../env.ts';
import { formatMailbox, parseMailbox, parseRecipient, type Mailbox } from './email-sender.ts';
import { EmailPayload, recipientsOf } from './kinds/email.ts';
import { checkEmailQuotas, quotaLockKey } from './email-quota.ts';
import { teamEmailSender } from './sender-domains.ts';

/** One address, already checked by the payload's schema: its mailbox. */
const toMailbox = (text: string): Mailbox => parseRecipient(text) ?? { name: '', address: text };

export const EmailInput = EmailPayload.transform((p) => ({ ...p, to: recipientsOf(p).map(toMailbox), replyTo: p.replyTo ? toMailbox(p.replyTo) : undefined }));
export type EmailInput = z.input<typeof EmailInput>;


export type SendEmailOptions = { teamId: string; email: EmailInput; effectId?: string; db?: Db };
export type SendEmailResult = { id: string; status: 'sent' | 'stored'; messageId?: string };

/**
 * Sends (or stores) one email. With `effectId`, a repeat for the same effect reuses its row, so
 * a retried delivery never stores two copies. Throws when a quota would be crossed (nothing is
 * stored or sent), or when the SMTP server refuses or is down; the row then says `failed`.
 */
export async function sendEmail({ teamId, email, effectId, db = defaultDb() }: SendEmailOptions): Promise<SendEmailResult> {
  const parsed = EmailInput.parse(email);
  // By (teamId, …): EmailMessage is distributed by team on Citus, so every statement here is one shard.
  const existing = effectId ? await db.emailMessage.findUnique({ where: { teamId_effectId: { teamId, effectId } } }) : null;
  if (existing?.status === 'sent') return { id: existing.id, status: 'sent' };
  const team = await db.team.findUniqueOrThrow({
    where: { id: teamId },
    select: { id: true, name: true, emailFrom: true, emailQuotaPerDay: true, accountId: true, account: { select: { emailQuotaPerDay: true } } },
  });
  const sender = await teamEmailSender(team, db);
  const from = formatMailbox(sender.from);
  const replyTo = parsed.replyTo ?? parseMailbox(sender.replyTo) ?? undefined;
  const data = { teamId, effectId, from, to: parsed.to.map(formatMailbox).join(', '), recipients: parsed.to.length, subject: parsed.subject, text: parsed.text, html: parsed.html, replyTo: replyTo ? formatMailbox(replyTo) : null };
  // A retry of an email already counted (its row exists) is not counted again. A new one is
  // counted and stored under the account's lock, so emails racing each other cannot overshoot.
  const row = existing
    ? await db.emailMessage.update({ where: { teamId_id: { teamId, id: existing.id } }, data: { from, replyTo: data.replyTo } })
    : await db.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${quotaLockKey(team)}))`;
        await checkEmailQuotas({ team, recipients: parsed.to.length, db: tx });
        return effectId ? tx.emailMessage.upsert({ where: { teamId_effectId: { teamId, effectId } }, create: data, update: {} }) : tx.emailMessage.create({ data });
      });
  if (row.status === 'sent') return { id: row.id, status: 'sent' };
  const transporter = smtpTransport();
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
