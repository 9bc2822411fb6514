// A /v1 request's JSON as Segment's HTTP API defines it: one message (its type implied by the path),
// or a batch `{ batch: [...], context?, integrations?, sentAt?, writeKey? }`. Pure.
import { AppError } from '../errors.ts';
import type { SegmentType } from '../../schemas/segment.ts';

/** Segment's limits: 32 KB a message, 500 KB and 2,500 messages a batch. */
export const SEGMENT_MESSAGE_MAX_BYTES = 32 * 1024;
export const SEGMENT_BATCH_MAX_BYTES = 500 * 1024;
export const SEGMENT_BATCH_MAX_MESSAGES = 2_500;

export type Json = Record<string, unknown>;

export type SegmentPayload = {
  messages: Json[];
  /** What a batch says once for all its messages (merged into each, the message's own keys winning). */
  shared: { context?: Json; integrations?: Json; sentAt?: unknown };
  writeKey: string | null;
};

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function optionalObject(value: unknown, what: string): Json | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new AppError('bad_request', `\`${what}\` must be an object.`);
  return value;
}

function writeKeyOf(value: unknown): string | null {
  if (value === undefined || value === null || value === '') return null;
  if (typeof value !== 'string') throw new AppError('bad_request', '`writeKey` must be a string.');
  return value;
}

/**
 * `call` is the path's message type, or `batch`. A single message's `type` may be left out (the
 * path says it); one that contradicts the path is refused rather than guessed at.
 */
export function parseSegmentPayload(value: unknown, call: SegmentType | 'batch'): SegmentPayload {
  if (!isObject(value)) throw new AppError('bad_request', 'The body must be a JSON object (a Segment message, or `{"batch": [...]}`).');
  if (call !== 'batch') {
    if (value.type !== undefined && value.type !== call) throw new AppError('bad_request', `This route takes \`${call}\` messages; the body says \`type: ${JSON.stringify(value.type)}\`.`);
    return { messages: [{ ...value, type: call }], shared: {}, writeKey: writeKeyOf(value.writeKey) };
  }
  const { batch } = value;
  if (!Array.isArray(batch)) throw new AppError('bad_request', 'A batch is `{"batch": [ …messages ]}`.');
  if (batch.length === 0) throw new AppError('bad_request', 'The batch is empty.');
  if (batch.length > SEGMENT_BATCH_MAX_MESSAGES) {
    throw new AppError('payload_too_large', `A batch may hold at most ${SEGMENT_BATCH_MAX_MESSAGES} messages; this one has ${batch.length}.`);
  }
  batch.forEach((m, i) => {
    if (!isObject(m)) throw new AppError('bad_request', `Message ${i} of the batch is not an object.`);
  });
  return {
    messages: batch as Json[],
    shared: { context: optionalObject(value.context, 'context'), integrations: optionalObject(value.integrations, 'integrations'), sentAt: value.sentAt },
    writeKey: writeKeyOf(value.writeKey),
  };
}
