import { sha256 } from '@oslojs/crypto/sha2';
import { encodeHexLowerCase } from '@oslojs/encoding';

/**
 * The stable id of an effect: the same (reducer, version, event index, ordinal) always gives the
 * same id, so a re-fold or a retried delivery carries the id receivers already saw.
 */
export function effectId(reducerId: string, version: number, eventIndex: number, ordinal: number): string {
  const digest = sha256(new TextEncoder().encode(`${reducerId}:${version}:${eventIndex}:${ordinal}`));
  return `eff_${encodeHexLowerCase(digest).slice(0, 32)}`;
}
