// Random tokens and SHA-256 digests, for every domain. Secrets (API keys, session and invite
// tokens) are stored only as SHA-256 digests: they carry 160 bits of entropy, so a fast hash is the
// right tool; passwords use argon2id instead (auth/passwords.ts).
import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';

export function randomToken(bytes = 20): string {
  return encodeBase32LowerCaseNoPadding(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The SHA-256 digest of a string's UTF-8 bytes, as lowercase hex. */
export function sha256Hex(text: string): string {
  return encodeHexLowerCase(sha256(new TextEncoder().encode(text)));
}

/** What is stored of a token: its digest. */
export const hashToken = sha256Hex;
