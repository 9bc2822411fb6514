// The absolute link in an invite email: PUBLIC_URL when set, else the origin the request came to.
import { env } from '../env.ts';

export function inviteLink(token: string, requestOrigin?: string): string {
  const e = env();
  const base = e.PUBLIC_URL ?? requestOrigin ?? `http://${e.HOST}:${e.PORT}`;
  return new URL(`/invite/${token}`, base).toString();
}
