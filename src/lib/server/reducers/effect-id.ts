import { sha256Hex } from '../crypto.ts';

/**
 * The stable id of an effect: the same (reducer, version, event index, ordinal) always gives the
 * same id, so a re-fold or a retried delivery carries the id receivers already saw.
 */
export function effectId(reducerId: string, version: number, eventIndex: number, ordinal: number): string {
  return `eff_${sha256Hex(`${reducerId}:${version}:${eventIndex}:${ordinal}`).slice(0, 32)}`;
}
