// Secrets that must be read back (two-factor keys, unlike tokens, which are only ever compared by
// hash) are kept encrypted with AES-256-GCM under SECRETS_KEY, so a copy of the database alone does
// not reveal them. Sealed bytes: a version byte, a 12-byte random nonce, the ciphertext, the 16-byte tag.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { env, isProduction } from '../env.ts';
import { AppError } from '../errors.ts';

const VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Where `npm start` (and development) keeps the key it made when SECRETS_KEY is unset. */
export function localSecretsKeyFile(): string {
  return join(resolve(process.cwd(), env().PIPET_DATA_DIR), 'secrets.key');
}

let key: Buffer | undefined;
let keySource: string | undefined;

/**
 * SECRETS_KEY; outside production without it, the key kept in the data folder (made on first use,
 * readable by its owner only). In production without it: an error that says what to set, never a
 * key derived from something else.
 */
function secretsKey(): Buffer {
  const configured = env().SECRETS_KEY?.trim();
  const source = configured ? 'env' : isProduction() ? 'none' : localSecretsKeyFile();
  if (key && keySource === source) return key;
  if (configured) {
    key = Buffer.from(configured, 'base64');
  } else if (source === 'none') {
    throw new AppError('unavailable', 'Two-factor authentication is not configured on this server: its operator must set SECRETS_KEY (32 random bytes in base64, `openssl rand -base64 32`).');
  } else {
    key = readOrMakeLocalKey(source);
  }
  keySource = source;
  return key;
}

function readOrMakeLocalKey(file: string): Buffer {
  mkdirSync(dirname(file), { recursive: true });
  try {
    // `wx`: of several processes starting at once, one writes and the others read what it wrote.
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const read = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
  if (read.length !== 32) throw new Error(`${file} does not hold 32 bytes in base64; remove it (two-factor keys sealed with it are lost) or set SECRETS_KEY.`);
  return read;
}

export function seal(plain: Uint8Array): Uint8Array<ArrayBuffer> {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', secretsKey(), nonce);
  const body = Buffer.concat([cipher.update(plain), cipher.final()]);
  return new Uint8Array(Buffer.concat([Buffer.of(VERSION), nonce, body, cipher.getAuthTag()]));
}

export function open(sealed: Uint8Array): Uint8Array<ArrayBuffer> {
  const bytes = Buffer.from(sealed);
  if (bytes.length < 1 + NONCE_BYTES + TAG_BYTES || bytes[0] !== VERSION) throw new AppError('internal', 'A sealed secret is not in a known format.');
  const nonce = bytes.subarray(1, 1 + NONCE_BYTES);
  const tag = bytes.subarray(bytes.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', secretsKey(), nonce);
  decipher.setAuthTag(tag);
  try {
    return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(1 + NONCE_BYTES, bytes.length - TAG_BYTES)), decipher.final()]));
  } catch {
    // A different SECRETS_KEY than the one that sealed it (or a damaged row): never a wrong secret.
    throw new AppError('unavailable', 'A stored secret cannot be decrypted with this server’s SECRETS_KEY (was it changed?).');
  }
}
