// The one SMTP transport of this process (SMTP_URL), shared by reducers' emails and account emails
// (verification codes, password resets); null when none is set.
import nodemailer, { type Transporter } from 'nodemailer';
import { env } from '../env.ts';

let transport: Transporter | undefined;
let transportUrl: string | undefined;

export function smtpTransport(): Transporter | null {
  const url = env().SMTP_URL;
  if (!url) return null;
  if (!transport || transportUrl !== url) {
    transport = nodemailer.createTransport(url);
    transportUrl = url;
  }
  return transport;
}
