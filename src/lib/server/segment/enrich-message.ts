// What Segment's servers add to a message before it is stored: the batch's shared context and
// integrations, receivedAt, a messageId when missing, the sender's address, and a timestamp
// corrected for the device's clock. Pure: time, address and ids come in as arguments.
import { isObject, type Json, type SegmentPayload } from './parse-segment-payload.ts';

export type EnrichOptions = {
  message: Json;
  shared: SegmentPayload['shared'];
  /** When this request reached us. */
  receivedAt: Date;
  /** The client's address, stored as `context.ip` unless the message names one. */
  ip: string | null;
  newMessageId: () => string;
};

function time(value: unknown): number | null {
  if (typeof value !== 'string' && !(value instanceof Date)) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

function merged(shared: Json | undefined, own: unknown): Json | undefined {
  if (!shared) return isObject(own) ? own : undefined;
  return { ...shared, ...(isObject(own) ? own : {}) };
}

/**
 * `timestamp = receivedAt − (sentAt − originalTimestamp)`: the time on the device when the call was
 * made, moved by the device's clock skew (sentAt and receivedAt are taken to be the same instant).
 * `originalTimestamp` is the message's, else the `timestamp` it was sent with (as Segment does);
 * without `sentAt` there is no skew to correct, and without either the timestamp is receivedAt.
 */
export function correctedTimestamp({ originalTimestamp, sentAt, receivedAt }: { originalTimestamp: unknown; sentAt: unknown; receivedAt: Date }): Date {
  const original = time(originalTimestamp);
  const sent = time(sentAt);
  if (original === null) return receivedAt;
  if (sent === null) return new Date(original);
  return new Date(receivedAt.getTime() - (sent - original));
}

export function enrichMessage({ message, shared, receivedAt, ip, newMessageId }: EnrichOptions): Json {
  // The write key is a credential: it is never stored with the events that readers see.
  const { writeKey: _writeKey, ...out } = message;
  const context = merged(shared.context, out.context);
  if (context) out.context = context;
  const integrations = merged(shared.integrations, out.integrations);
  if (integrations) out.integrations = integrations;
  if (ip && !(isObject(out.context) && out.context.ip)) out.context = { ...(isObject(out.context) ? out.context : {}), ip };
  if (typeof out.messageId !== 'string' || !out.messageId) out.messageId = newMessageId();
  const originalTimestamp = out.originalTimestamp ?? out.timestamp;
  const sentAt = out.sentAt ?? shared.sentAt;
  if (originalTimestamp !== undefined) out.originalTimestamp = originalTimestamp;
  if (sentAt !== undefined) out.sentAt = sentAt;
  out.receivedAt = receivedAt.toISOString();
  out.timestamp = correctedTimestamp({ originalTimestamp, sentAt, receivedAt }).toISOString();
  return out;
}
