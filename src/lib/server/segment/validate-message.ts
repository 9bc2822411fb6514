// What every Segment message must carry, by type. Pure; throws the API's usual 400 (or 413).
import { AppError } from '../errors.ts';
import { SEGMENT_TYPES, type SegmentType } from '../../schemas/segment.ts';
import { isObject, SEGMENT_MESSAGE_MAX_BYTES, type Json } from './parse-segment-payload.ts';

const present = (v: unknown): boolean => (typeof v === 'string' && v.length > 0) || (typeof v === 'number' && Number.isFinite(v));

/** The field each type requires beyond an identity (Segment's spec). */
const REQUIRED: Partial<Record<SegmentType, string>> = { track: 'event', group: 'groupId', alias: 'previousId' };

/** The first thing wrong with a message (with the status it earns), or null. */
export function messageProblem(message: Json): { status: 400 | 413; problem: string } | null {
  const size = Buffer.byteLength(JSON.stringify(message));
  if (size > SEGMENT_MESSAGE_MAX_BYTES) return { status: 413, problem: `is ${size} bytes; a message may be at most ${SEGMENT_MESSAGE_MAX_BYTES}` };
  const type = message.type;
  if (typeof type !== 'string' || !(SEGMENT_TYPES as readonly string[]).includes(type)) {
    return { status: 400, problem: `needs a \`type\` (${SEGMENT_TYPES.join(', ')})${type === undefined ? '' : `, not ${JSON.stringify(type)}`}` };
  }
  if (!present(message.userId) && !present(message.anonymousId)) return { status: 400, problem: 'needs a `userId` or an `anonymousId`' };
  const field = REQUIRED[type as SegmentType];
  if (field && !present(message[field])) return { status: 400, problem: `is a \`${type}\` and needs \`${field}\`` };
  if (message.messageId !== undefined && message.messageId !== null && (typeof message.messageId !== 'string' || message.messageId.length === 0 || message.messageId.length > 255)) {
    return { status: 400, problem: '`messageId` must be a string of 1 to 255 characters' };
  }
  for (const key of ['context', 'integrations', 'properties', 'traits'] as const) {
    if (message[key] !== undefined && message[key] !== null && !isObject(message[key])) return { status: 400, problem: `\`${key}\` must be an object` };
  }
  return null;
}

/** Every message valid, or the first problem as an AppError naming the message: a batch is all or nothing. */
export function validateMessages(messages: Json[]): void {
  messages.forEach((message, i) => {
    const found = messageProblem(message);
    if (!found) return;
    const name = messages.length > 1 ? `Message ${i} of the batch` : 'The message';
    throw new AppError(found.status === 413 ? 'payload_too_large' : 'bad_request', `${name} ${found.problem}.`);
  });
}
