// What an effect kind is. A reducer calls the kind's sandbox function (`request`, `email`, ...);
// the call's arguments cross into the host as JSON and `record` turns them into the payload to
// store, or refuses them with a message the reducer sees as a TypeError. The stored payload is
// validated again (`payload`) before every delivery attempt: a row is data, not a promise.
import { z } from 'zod';
import type { EffectKind } from '../../../schemas/vocabulary.ts';
import { parseRecipient } from '../email-sender.ts';

/** What `record` knows besides the arguments: the event's receive time (the reducer's `Date.now()`). */
export type RecordContext = { now: number };

export type EffectSpec<P = unknown> = {
  kind: EffectKind;
  /** The sandbox function, e.g. `request(url, options)`: its name and parameters, in order. */
  signature: { name: string; params: readonly string[] };
  /** The call's arguments (by parameter name, as JSON) → the payload; throws EffectArgumentError. */
  record(args: Record<string, unknown>, ctx: RecordContext): P;
  /** The stored payload's shape. */
  payload: z.ZodType<P>;
  /** The queue its attempts run on; `none` for a directive the fold applies itself (cancel). */
  queue: 'deliver' | 'timers' | 'none';
  /** When its first attempt is due, given when it was recorded. */
  dueAt(payload: P, recordedAt: Date): Date;
  /** One line for lists in the app. */
  summary(payload: P): string;
  /** The host it calls, for the per-destination circuit breaker (kinds that call no one have none). */
  destination?(payload: P): string;
  /** A keyed timer's key: a later timer or cancel with the same key in the reducer cancels it. */
  keyOf?(payload: P): string | null;
};

/** A refusal the reducer sees, already prefixed with the function's signature. */
export class EffectArgumentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TypeError';
  }
}

export function signatureText(spec: Pick<EffectSpec, 'signature'>): string {
  return `${spec.signature.name}(${spec.signature.params.join(', ')})`;
}

/**
 * Parses a call's arguments with `schema`, whose error messages are written for the reducer's
 * author ("url must be …"): the first is thrown, prefixed with the signature.
 */
export function parseArgs<T extends z.ZodType>(spec: Pick<EffectSpec, 'signature'>, schema: T, args: Record<string, unknown>): z.output<T> {
  const parsed = schema.safeParse(args);
  if (!parsed.success) throw new EffectArgumentError(`${signatureText(spec)}: ${parsed.error.issues[0]?.message ?? 'invalid arguments'}`);
  return parsed.data;
}

/** `host[:port]` of a URL, lowercased: what a circuit breaker keys on. */
export const hostOf = (url: string): string => {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return url.slice(0, 200);
  }
};

export const dueNow = (_payload: unknown, recordedAt: Date): Date => recordedAt;

/** An http(s) URL as reducers may give it (the delivery checks the destination itself). */
export const HTTP_URL = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
export const httpUrl = (what: string) => z.string({ error: `${what} must be an http:// or https:// URL string` }).max(2048, `${what} must be at most 2048 characters`).regex(HTTP_URL, `${what} must be an http:// or https:// URL string`);

/**
 * A sender as a team sets it (`emailFrom`): "ada@example.com" or "Ada <ada@example.com>", one line,
 * the address without anything an address list splits on.
 */
export const ADDRESS = /^(?:[^@\s<>()[\]\\",;:]+@[^@\s<>()[\]\\",;:]+|[^<>\r\n]*<[^@\s<>()[\]\\",;:]+@[^@\s<>()[\]\\",;:]+>)$/;
const ONE_ADDRESS_HELP = 'an email address, exactly one, like "ada@example.com" or "Ada <ada@example.com>" (a display name may not contain , ; : < > " ( ) or \\)';
/** Exactly one recipient (see parseRecipient): never a list, a group or a name an address list would split. */
export const address = (what: string) =>
  z.string({ error: `${what} must be ${ONE_ADDRESS_HELP}` })
    .max(320, `${what} must be an email address of at most 320 characters`)
    .refine((text) => parseRecipient(text) !== null, `${what} must be ${ONE_ADDRESS_HELP}`);

export const singleLine = (what: string, max: number) =>
  z.string({ error: `${what} must be a non-empty single-line string` }).min(1, `${what} must be a non-empty single-line string`).max(max, `${what} must be at most ${max} characters`).regex(/^[^\r\n]*$/, `${what} must be a non-empty single-line string`);
