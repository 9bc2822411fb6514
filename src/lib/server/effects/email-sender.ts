// Who an email says it is from. Pure, table-tested: Pipet's own address with the team's name
// ("Acme via Pipet" <noreply@…>) and the team's chosen sender as Reply-To, unless the team
// verified the domain of its chosen sender, which may then be the From.
import addressparser from 'nodemailer/lib/addressparser';

export type Mailbox = { name: string; address: string };

// One side of an address: nothing an address list could split on or quote (`,;:"<>()[]\`), no
// whitespace or control characters, no second `@`.
const PART = '[^\\s@<>()[\\]\\\\,;:"\\u0000-\\u001f\\u007f]+';
const MAILBOX = new RegExp(`^\\s*(?:"?([^"<>]*?)"?\\s*<(${PART}@${PART})>|(${PART}@${PART}))\\s*$`);
// A recipient as a reducer writes it: a bare address, or a display name without `,;:<>"()\` and
// control characters before one address in brackets.
const RECIPIENT = new RegExp(`^\\s*(?:([^<>()\\\\,;:"\\u0000-\\u001f\\u007f]*?)\\s*<(${PART}@${PART})>|(${PART}@${PART}))\\s*$`);

/**
 * Exactly one mailbox, or null: "ada@example.com" or "Ada <ada@example.com>". Anything an address
 * list could read as more than one address (commas, semicolons, groups, a second address in the
 * name) is refused, and nodemailer's own parser must agree it is this one address.
 */
export function parseRecipient(text: string): Mailbox | null {
  if (text.length > 320) return null;
  const m = RECIPIENT.exec(text);
  if (!m) return null;
  const mailbox = { name: (m[1] ?? '').replace(/\s+/g, ' ').trim(), address: m[2] ?? m[3] };
  const parsed = addressparser(text);
  const only = parsed.length === 1 ? parsed[0] : null;
  return only && 'address' in only && only.address === mailbox.address ? mailbox : null;
}

/** "Ada <ada@acme.example>" or "ada@acme.example" → { name, address }; null if neither. */
export function parseMailbox(text: string | null | undefined): Mailbox | null {
  const m = text ? MAILBOX.exec(text) : null;
  if (!m) return null;
  return { name: cleanName(m[1] ?? ''), address: (m[2] ?? m[3]).trim() };
}

/** The domain of an address, lowercase, without a trailing dot. */
export function domainOf(address: string): string {
  return address.slice(address.lastIndexOf('@') + 1).toLowerCase().replace(/\.$/, '');
}

/** A display name that cannot break out of its header: no control characters, quotes or brackets. */
export function cleanName(name: string): string {
  return name.replace(/[\u0000-\u001f\u007f"<>\\]/g, ' ').replace(/\s+/g, ' ').trim().slice(0, 100);
}

/** As stored in the outbox and shown in the app: `"Acme via Pipet" <noreply@pipet.example>`. */
export function formatMailbox({ name, address }: Mailbox): string {
  return name ? `"${name}" <${address}>` : address;
}

export type EmailSenderOptions = {
  teamName: string;
  /** The team's chosen sender (`team.emailFrom`), if any. */
  emailFrom: string | null;
  /** The team's verified sender domains. */
  verifiedDomains: string[];
  /** Pipet's own sender, EMAIL_FROM. */
  pipetFrom: string;
};

export type EmailSender = { from: Mailbox; replyTo: string | null; verified: boolean };

export function emailSender({ teamName, emailFrom, verifiedDomains, pipetFrom }: EmailSenderOptions): EmailSender {
  const chosen = parseMailbox(emailFrom);
  if (chosen && verifiedDomains.includes(domainOf(chosen.address))) {
    return { from: { name: chosen.name || cleanName(teamName), address: chosen.address }, replyTo: null, verified: true };
  }
  const pipet = parseMailbox(pipetFrom) ?? { name: 'Pipet', address: pipetFrom };
  const via = `${cleanName(teamName).slice(0, 60)} via ${pipet.name || 'Pipet'}`;
  return { from: { name: via, address: pipet.address }, replyTo: chosen ? formatMailbox(chosen) : null, verified: false };
}
