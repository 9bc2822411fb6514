// Reading account emails (verification codes, reset links) out of what the test SMTP server got.
import type { Mail } from './smtp.ts';

/** The message with quoted-printable soft breaks and escapes undone (enough for ASCII links and codes). */
export function decoded(mail: Mail): string {
  return mail.raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** Waits for the first mail to `to` (after `skip` earlier ones) that `match` accepts. */
export async function waitForMail(mails: Mail[], to: string, { skip = 0, timeoutMs = 10_000 }: { skip?: number; timeoutMs?: number } = {}): Promise<Mail> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = mails.filter((m) => m.to.includes(to))[skip];
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`No mail #${skip + 1} to ${to} within ${timeoutMs} ms (got ${mails.length} in all).`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The 8-character verification code a mail carries. */
export function codeIn(mail: Mail): string {
  const m = /verification code: ([A-Z2-7]{8})/.exec(decoded(mail));
  if (!m) throw new Error(`No verification code in:\n${mail.raw}`);
  return m[1];
}

/** The password reset link a mail carries. */
export function resetLinkIn(mail: Mail): string {
  const m = /https?:\/\/[^\s"<>]+\/reset\/[a-z0-9]+/.exec(decoded(mail));
  if (!m) throw new Error(`No reset link in:\n${mail.raw}`);
  return m[0];
}
