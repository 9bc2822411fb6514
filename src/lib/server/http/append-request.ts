// POST /s/{team}/{stream} and /batch: parse by content type, append through the one path, and
// answer JSON clients with 201 and browsers' forms with a 303.
import { appendEvents } from '../streams/append-events.ts';
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { httpRedirect } from '../auth/safe-redirect.ts';
import { verifySignature } from '../auth/verify-signature.ts';
import { readBody } from './read-body.ts';
import { parseAppendBody } from './parse-append-body.ts';
import { json } from './respond.ts';
import { originAllowed, type StreamContext } from './stream-route.ts';

function prefersHtml(request: Request): boolean {
  const accept = request.headers.get('accept') ?? '';
  const html = accept.indexOf('text/html');
  const jsonAt = accept.indexOf('application/json');
  return html >= 0 && (jsonAt < 0 || html < jsonAt);
}

/** The form's `_redirect` when it is an http(s) URL on one of the stream's allowed origins, else the thank-you page. */
function redirectTarget(redirect: string | undefined, allowed: string[], base: URL): string {
  const target = httpRedirect(redirect);
  if (target && originAllowed(target.origin, allowed)) return target.href;
  return new URL('/thanks', base).href;
}

export async function handleAppend(ctx: StreamContext, { batch }: { batch: boolean }): Promise<Response> {
  const { request } = ctx.event;
  const limits = env();
  const bytes = await readBody(request, batch ? limits.BATCH_MAX_BYTES : limits.EVENT_MAX_BYTES);
  // A signed stream takes nothing unsigned, whoever sends it (a key, a member, the public): checked
  // on the bytes as received, before they are parsed.
  const { signatureScheme, signatureSecret } = ctx.stream;
  if (signatureScheme) verifySignature({ scheme: signatureScheme, secret: signatureSecret, headers: request.headers, body: bytes });
  const parsed = await parseAppendBody(request, bytes, { batch });
  // A Standard Webhooks sender resends a message under the same (signed) `webhook-id` until it gets
  // a 2xx: that id is the message's idempotency key, so a retry after a lost answer appends nothing.
  const idempotencyKey = request.headers.get('idempotency-key') ?? (signatureScheme === 'standard_webhooks' ? (request.headers.get('webhook-id') ?? undefined) : undefined);
  if (idempotencyKey !== undefined && (idempotencyKey.length === 0 || idempotencyKey.length > 255)) {
    throw new AppError('bad_request', 'Idempotency-Key must be 1 to 255 characters.');
  }
  const result = await appendEvents({ streamId: ctx.stream.id, bodies: parsed.values, idempotency: idempotencyKey === undefined ? undefined : { key: idempotencyKey, scope: ctx.principal } });
  const base = `/s/${ctx.team.slug}/${ctx.stream.slug}`;
  if (parsed.isForm && prefersHtml(request)) {
    return new Response(null, { status: 303, headers: { location: redirectTarget(parsed.redirect, ctx.stream.allowedOrigins, ctx.url) } });
  }
  const status = result.replayed ? 200 : 201;
  if (batch) {
    return json({ first: result.first, count: result.count, length: result.length }, { status, headers: { location: `${base}/${result.first}` } });
  }
  return json({ index: result.first, length: result.length }, { status, headers: { location: `${base}/${result.first}` } });
}
