// The Segment domain's pure parts, table by table: payload shapes, validation, enrichment, settings,
// and where a write key may come from.
import { describe, expect, it } from 'vitest';
import { parseSegmentPayload, SEGMENT_MESSAGE_MAX_BYTES } from '../../src/lib/server/segment/parse-segment-payload.ts';
import { messageProblem, validateMessages } from '../../src/lib/server/segment/validate-message.ts';
import { correctedTimestamp, enrichMessage } from '../../src/lib/server/segment/enrich-message.ts';
import { segmentSettings } from '../../src/lib/server/segment/segment-settings.ts';
import { writeKeyFromHeader } from '../../src/lib/server/auth/authorize-write-key.ts';
import { AppError } from '../../src/lib/server/errors.ts';

const codeOf = (f: () => unknown): string | null => {
  try {
    f();
    return null;
  } catch (e) {
    return e instanceof AppError ? e.code : String(e);
  }
};

describe('parseSegmentPayload', () => {
  it.each([
    ['a track body', { userId: 'u', event: 'E' }, 'track', null],
    ['a body whose type matches the path', { type: 'page', userId: 'u' }, 'page', null],
    ['a body whose type contradicts the path', { type: 'identify', userId: 'u' }, 'track', 'bad_request'],
    ['an array body', [{ userId: 'u' }], 'track', 'bad_request'],
    ['a string body', 'hello', 'track', 'bad_request'],
    ['a batch', { batch: [{ type: 'track', userId: 'u', event: 'E' }] }, 'batch', null],
    ['a batch without `batch`', { messages: [] }, 'batch', 'bad_request'],
    ['an empty batch', { batch: [] }, 'batch', 'bad_request'],
    ['a batch of 2,501', { batch: Array.from({ length: 2501 }, () => ({})) }, 'batch', 'payload_too_large'],
    ['a batch holding a non-object', { batch: [1] }, 'batch', 'bad_request'],
    ['a batch whose context is a string', { batch: [{}], context: 'x' }, 'batch', 'bad_request'],
    ['a numeric writeKey', { batch: [{}], writeKey: 7 }, 'batch', 'bad_request'],
  ] as const)('%s', (_, body, call, code) => {
    expect(codeOf(() => parseSegmentPayload(body, call))).toBe(code);
  });

  it('gives single messages the path type, and batches their shared parts and write key', () => {
    expect(parseSegmentPayload({ userId: 'u', event: 'E', writeKey: 'pk_a_b' }, 'track')).toEqual({
      messages: [{ type: 'track', userId: 'u', event: 'E', writeKey: 'pk_a_b' }],
      shared: {},
      writeKey: 'pk_a_b',
    });
    const p = parseSegmentPayload({ batch: [{ type: 'page' }], context: { app: 1 }, integrations: { All: false }, sentAt: 'S', writeKey: 'k' }, 'batch');
    expect(p.shared).toEqual({ context: { app: 1 }, integrations: { All: false }, sentAt: 'S' });
    expect(p.writeKey).toBe('k');
  });
});

describe('messageProblem', () => {
  it.each([
    ['a track', { type: 'track', userId: 'u', event: 'Signed up' }, null],
    ['an anonymous page', { type: 'page', anonymousId: 'a' }, null],
    ['a numeric userId', { type: 'identify', userId: 42 }, null],
    ['no type', { userId: 'u' }, 'needs a `type`'],
    ['an unknown type', { type: 'purchase', userId: 'u' }, 'not "purchase"'],
    ['no identity', { type: 'identify', traits: {} }, '`userId` or an `anonymousId`'],
    ['empty identities', { type: 'identify', userId: '', anonymousId: '' }, '`userId` or an `anonymousId`'],
    ['a track without event', { type: 'track', userId: 'u' }, 'needs `event`'],
    ['a group without groupId', { type: 'group', userId: 'u' }, 'needs `groupId`'],
    ['an alias without previousId', { type: 'alias', userId: 'u' }, 'needs `previousId`'],
    ['a screen (no extra field)', { type: 'screen', userId: 'u' }, null],
    ['a numeric messageId', { type: 'page', userId: 'u', messageId: 5 }, '`messageId` must be a string'],
    ['a messageId too long', { type: 'page', userId: 'u', messageId: 'x'.repeat(256) }, '`messageId` must be a string'],
    ['properties that are an array', { type: 'track', userId: 'u', event: 'E', properties: [] }, '`properties` must be an object'],
    ['a message over 32 KB', { type: 'track', userId: 'u', event: 'E', properties: { s: 'x'.repeat(SEGMENT_MESSAGE_MAX_BYTES) } }, 'a message may be at most'],
  ] as const)('%s', (_, message, problem) => {
    const found = messageProblem(message as Record<string, unknown>);
    if (problem === null) expect(found).toBeNull();
    else expect(found?.problem).toContain(problem);
  });

  it('refuses a whole batch for one bad message, naming it, with 413 for size', () => {
    const ok = { type: 'track', userId: 'u', event: 'E' };
    expect(() => validateMessages([ok, { type: 'track', userId: 'u' }])).toThrow(/Message 1 of the batch is a `track` and needs `event`/);
    expect(codeOf(() => validateMessages([ok, { ...ok, properties: { s: 'x'.repeat(40_000) } }]))).toBe('payload_too_large');
    expect(codeOf(() => validateMessages([ok, ok]))).toBeNull();
  });
});

describe('correctedTimestamp', () => {
  const receivedAt = new Date('2026-01-01T12:00:00.000Z');
  it.each([
    ['a device clock 1 h fast', '2026-01-01T12:59:50.000Z', '2026-01-01T13:00:00.000Z', '2026-01-01T11:59:50.000Z'],
    ['a device clock 5 min slow, event queued 1 min', '2026-01-01T11:54:00.000Z', '2026-01-01T11:55:00.000Z', '2026-01-01T11:59:00.000Z'],
    ['no sentAt: the original time as sent', '2026-01-01T11:00:00.000Z', undefined, '2026-01-01T11:00:00.000Z'],
    ['no original time: receivedAt', undefined, '2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z'],
    ['an unparseable time: receivedAt', 'yesterday-ish', '2026-01-01T11:00:00.000Z', '2026-01-01T12:00:00.000Z'],
  ])('%s', (_, originalTimestamp, sentAt, expected) => {
    expect(correctedTimestamp({ originalTimestamp, sentAt, receivedAt }).toISOString()).toBe(expected);
  });
});

describe('enrichMessage', () => {
  const receivedAt = new Date('2026-01-01T12:00:00.000Z');
  const base = { shared: {}, receivedAt, ip: '203.0.113.9', newMessageId: () => 'generated' };

  it('merges the batch context and integrations under the message own, and adds receivedAt, messageId, ip and timestamp', () => {
    const out = enrichMessage({
      ...base,
      message: { type: 'track', userId: 'u', event: 'E', context: { locale: 'fr', page: { path: '/' } }, integrations: { Mixpanel: false }, timestamp: '2026-01-01T11:59:00.000Z', writeKey: 'pk_x_y' },
      shared: { context: { locale: 'en', library: { name: 'x' } }, integrations: { All: true, Mixpanel: true }, sentAt: '2026-01-01T12:00:00.000Z' },
    });
    expect(out).toEqual({
      type: 'track',
      userId: 'u',
      event: 'E',
      context: { locale: 'fr', library: { name: 'x' }, page: { path: '/' }, ip: '203.0.113.9' },
      integrations: { All: true, Mixpanel: false },
      messageId: 'generated',
      originalTimestamp: '2026-01-01T11:59:00.000Z',
      sentAt: '2026-01-01T12:00:00.000Z',
      receivedAt: '2026-01-01T12:00:00.000Z',
      timestamp: '2026-01-01T11:59:00.000Z',
    });
  });

  it.each([
    ['keeps a messageId', { messageId: 'm-1' }, (o: Record<string, unknown>) => o.messageId === 'm-1'],
    ['keeps an ip the message names', { context: { ip: '198.51.100.1' } }, (o: Record<string, unknown>) => (o.context as { ip: string }).ip === '198.51.100.1'],
    ['never stores the write key', { writeKey: 'pk_a_b' }, (o: Record<string, unknown>) => !('writeKey' in o)],
    ['prefers the message own sentAt', { originalTimestamp: '2026-01-01T10:00:00.000Z', sentAt: '2026-01-01T10:00:10.000Z' }, (o: Record<string, unknown>) => o.timestamp === '2026-01-01T11:59:50.000Z'],
    ['without a time, the timestamp is receivedAt', {}, (o: Record<string, unknown>) => o.timestamp === receivedAt.toISOString() && !('originalTimestamp' in o)],
  ])('%s', (_, extra, check) => {
    expect(check(enrichMessage({ ...base, message: { type: 'page', userId: 'u', ...extra } }))).toBe(true);
  });
});

describe('segmentSettings', () => {
  it.each([
    ['https://pipet.example', 'pipet.example/v1', 'https'],
    ['http://127.0.0.1:3000', '127.0.0.1:3000/v1', 'http'],
    ['https://example.com/pipet/', 'example.com/pipet/v1', 'https'],
  ])('points Segment.io at %s', (url, apiHost, protocol) => {
    const s = segmentSettings({ writeKey: 'pk_a_b', publicUrl: new URL(url) });
    expect(s.integrations['Segment.io']).toMatchObject({ apiKey: 'pk_a_b', apiHost, protocol });
    expect(s.metrics.sampleRate).toBe(0);
  });
});

describe('writeKeyFromHeader', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it.each([
    ['Basic key:', basic('pk_a_b:'), 'pk_a_b'],
    ['Basic key (no colon)', basic('pk_a_b'), 'pk_a_b'],
    ['Basic key:password', basic('pk_a_b:ignored'), 'pk_a_b'],
    ['Bearer', 'Bearer pk_a_b', 'pk_a_b'],
    ['no header', null, null],
    ['Basic with an empty user', basic(':x'), null],
  ])('%s', (_, header, key) => {
    expect(writeKeyFromHeader(header)).toBe(key);
  });
  it('refuses another scheme', () => {
    expect(codeOf(() => writeKeyFromHeader('Digest abc'))).toBe('unauthorized');
  });
});
