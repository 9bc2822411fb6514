// A /v1 request's messages into the write key's stream: validated, enriched, and appended through
// the one append path, each de-duplicated on its messageId within the key's own scope.
import { randomUUID } from 'node:crypto';
import { appendEvents } from '../streams/append-events.ts';
import { enrichMessage } from './enrich-message.ts';
import { validateMessages } from './validate-message.ts';
import type { SegmentPayload } from './parse-segment-payload.ts';

export type IngestSegmentOptions = {
  streamId: string;
  /** The write key's id: messageIds are de-duplicated per key (`segment:<id>`), never across senders. */
  keyId: string;
  payload: SegmentPayload;
  receivedAt: Date;
  ip: string | null;
};

export async function ingestSegment({ streamId, keyId, payload, receivedAt, ip }: IngestSegmentOptions) {
  validateMessages(payload.messages);
  const bodies = payload.messages.map((message) => enrichMessage({ message, shared: payload.shared, receivedAt, ip, newMessageId: () => `pipet-${randomUUID()}` }));
  const keys = bodies.map((b) => b.messageId as string);
  const result = await appendEvents({ streamId, bodies, idempotency: { keys, scope: `segment:${keyId}` } });
  return { appended: result.count, duplicates: result.duplicates ?? 0, first: result.first, length: result.length };
}
