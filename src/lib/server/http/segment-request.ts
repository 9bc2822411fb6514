// POST /v1/{call}: Segment's HTTP API. The body is JSON whatever its Content-Type (analytics.js
// sends text/plain), possibly gzip-compressed (RudderStack's SDKs compress by default); the answer
// is `200 {"success":true}`, whether the messages were new or repeats.
import { gunzipSync, inflateSync } from 'node:zlib';
import type { RequestEvent } from '@sveltejs/kit';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { segmentSettings } from '../segment/segment-settings.ts';
import { ingestSegment } from '../segment/ingest-segment.ts';
import { parseSegmentPayload, SEGMENT_BATCH_MAX_BYTES, SEGMENT_MESSAGE_MAX_BYTES, type SegmentPayload } from '../segment/parse-segment-payload.ts';
import { SEGMENT_CALLS } from '../../schemas/segment.ts';
import { decodeUtf8, parseJson } from './parse-append-body.ts';
import { readBody } from './read-body.ts';
import { json } from './respond.ts';
import type { WriteKeyContext } from './stream-route.ts';

/** Decompressed, a body may be no larger than compressed: the limits are Segment's on what it carries. */
function decompress(bytes: Uint8Array, encoding: string, limit: number): Uint8Array {
  if (encoding === '' || encoding === 'identity') return bytes;
  const inflate = encoding === 'gzip' || encoding === 'x-gzip' ? gunzipSync : encoding === 'deflate' ? inflateSync : null;
  if (!inflate) throw new AppError('unsupported_media_type', `Content-Encoding \`${encoding}\` is not supported; send gzip, deflate or none.`);
  try {
    return inflate(bytes, { maxOutputLength: limit });
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw new AppError('payload_too_large', `The body may be at most ${limit} bytes uncompressed.`);
    throw new AppError('bad_request', `The body is not valid ${encoding} (${(error as Error).message}).`);
  }
}

const payloads = new WeakMap<Request, Promise<SegmentPayload>>();

/** The request's Segment payload, read once (the write key may be in it, and the act needs it too). */
export function segmentPayload(event: RequestEvent): Promise<SegmentPayload> {
  let found = payloads.get(event.request);
  if (!found) {
    found = (async () => {
      const call = SEGMENT_CALLS[event.params.call ?? ''];
      if (!call) throw new AppError('not_found', 'No such route.');
      // SvelteKit's Node adapter passes no body on without a Content-Type; every SDK sends one.
      if (!event.request.headers.get('content-type')) throw new AppError('unsupported_media_type', 'Send a Content-Type (any: the body is read as JSON whatever it says).');
      const limit = call === 'batch' ? SEGMENT_BATCH_MAX_BYTES : SEGMENT_MESSAGE_MAX_BYTES;
      const raw = await readBody(event.request, limit);
      const encoding = (event.request.headers.get('content-encoding') ?? '').trim().toLowerCase();
      const text = decodeUtf8(decompress(raw, encoding, limit));
      if (!text.trim()) throw new AppError('invalid_json', 'The body is empty; send a JSON message.');
      return parseSegmentPayload(parseJson(text), call);
    })();
    payloads.set(event.request, found);
  }
  return found;
}

export async function handleSegment(ctx: WriteKeyContext): Promise<Response> {
  const receivedAt = new Date();
  const payload = await segmentPayload(ctx.event);
  await ingestSegment({ streamId: ctx.stream.id, keyId: ctx.keyId, payload, receivedAt, ip: ctx.event.getClientAddress() });
  return json({ success: true });
}

/** GET /v1/projects/{writeKey}/settings: what analytics.js loads from its CDN, pointing it back here. */
export async function handleSegmentSettings(ctx: WriteKeyContext): Promise<Response> {
  // This URL carries the key and the page that loads it publishes it: only ingest-only keys (as for `?key=`).
  const others = ctx.scopes.filter((s) => s !== 'ingest');
  if (others.length > 0) {
    throw new AppError('forbidden', `A browser's write key must be ingest-only: this key also has ${others.map((s) => `\`${s}\``).join(' and ')}, and pages publish their key. Create an ingest-only key for this stream (and revoke this one if it was published).`);
  }
  const publicUrl = new URL(env().PUBLIC_URL ?? ctx.event.url.origin);
  return json(segmentSettings({ writeKey: ctx.event.params.writeKey!, publicUrl }), { headers: { 'cache-control': 'public, max-age=60' } });
}
