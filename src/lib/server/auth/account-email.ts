// Emails to a person about their own account (verification codes, password resets): through the
// same SMTP server (SMTP_URL) and sender (EMAIL_FROM) as team emails, but never into a team's
// outbox, where every member of the team could read the code or the link. Without SMTP_URL, under
// `npm start` (development) the message goes to the server's log, so one can still verify and reset.
import { smtpTransport } from '../effects/smtp.ts';
import { env, isProduction } from '../env.ts';
import { parseMailbox } from '../effects/email-sender.ts';

export type AccountEmail = { to: string; subject: string; text: string; html: string };


/** Sends one account email; rejects when the SMTP server refuses it or cannot be reached. */
export async function sendAccountEmail({ to, subject, text, html }: AccountEmail): Promise<void> {
  const transporter = smtpTransport();
  if (!transporter) {
    // The code or link is the only way in for this person; the operator's log is the one place
    // it may go when there is no mail server, and only where nothing real is at stake.
    if (isProduction()) console.warn(`[pipet] SMTP_URL is not set: the email "${subject}" to ${to} was not sent.`);
    else if (env().NODE_ENV === 'development') console.log(`[pipet] SMTP_URL is not set; the email "${subject}" to ${to} would say:\n${text}`);
    return;
  }
  const from = parseMailbox(env().EMAIL_FROM) ?? env().EMAIL_FROM;
  await transporter.sendMail({ from, to: { name: '', address: to }, subject, text, html });
}

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An absolute link into the app: PUBLIC_URL when set, else the origin the request came to. */
export function appLink(path: string, requestOrigin?: string): string {
  const e = env();
  return new URL(path, e.PUBLIC_URL ?? requestOrigin ?? `http://${e.HOST}:${e.PORT}`).toString();
}
