// POST /s/{team}/{stream} and /batch: parse by content type, append through the one path, and
// answer JSON clients with 201 and browsers' forms with a 303.
import { appendEvents, type Idempotency } from '../streams/append-events.ts';
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

/**
 * The scope of a signed stream's idempotency keys: the signature is the credential, so a replay
 * dedupes against the first delivery whoever sends it (anonymously, with a key, or signed in).
 */
const SIGNED_SCOPE = 'signed';

/** `Idempotency-Key`, the sender's own key, on streams without a signature. */
function headerIdempotency(request: Request, scope: string): Idempotency | undefined {
  const key = request.headers.get('idempotency-key');
  if (key === null) return undefined;
  if (key.length === 0 || key.length > 255) throw new AppError('bad_request', 'Idempotency-Key must be 1 to 255 characters.');
  return { key, scope };
}

export async function handleAppend(ctx: StreamContext, { batch }: { batch: boolean }): Promise<Response> {
  const { request } = ctx.event;
  const limits = env();
  const bytes = await readBody(request, batch ? limits.BATCH_MAX_BYTES : limits.EVENT_MAX_BYTES);
  // A signed stream takes nothing unsigned, whoever sends it (a key, a member, the public): checked
  // on the bytes as received, before they are parsed.
  const { signatureScheme, signatureSecret } = ctx.stream;
  const signedKey = signatureScheme ? verifySignature({ scheme: signatureScheme, secret: signatureSecret, headers: request.headers, body: bytes }) : undefined;
  const parsed = await parseAppendBody(request, bytes, { batch });
  // On a signed stream the signed id is the idempotency key, and no unsigned `Idempotency-Key` can
  // replace it: a captured request replayed with a new one would otherwise append again.
  const idempotency = signedKey === undefined ? headerIdempotency(request, ctx.principal) : { key: signedKey, scope: SIGNED_SCOPE };
  const result = await appendEvents({ streamId: ctx.stream.id, bodies: parsed.values, idempotency });
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
