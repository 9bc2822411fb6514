// JSON responses and the one error shape: {"error": {"code", "message"}} with an honest status.
import { AppError, toAppError } from '../errors.ts';
import { rateLimitHeaders, type RateLimitState } from '../rate-limit.ts';

export function json(data: unknown, init: ResponseInit = {}): Response {
  return jsonText(JSON.stringify(data), init);
}

export function jsonText(text: string, init: ResponseInit = {}): Response {
  const headers = new Headers(init.headers);
  headers.set('content-type', 'application/json; charset=utf-8');
  return new Response(text, { ...init, headers });
}

export function errorResponse(error: unknown): Response {
  const e = toAppError(error);
  if (!(error instanceof AppError)) console.error(error);
  const headers = new Headers();
  if (e.retryAfter) headers.set('retry-after', String(e.retryAfter));
  if (e.code === 'rate_limited' && e.details) for (const [k, v] of Object.entries(rateLimitHeaders(e.details as RateLimitState))) headers.set(k, v);
  return json({ error: { code: e.code, message: e.message } }, { status: e.status, headers });
}

/** `response` with `headers` set; a Response with immutable headers (one from fetch) is copied first. */
export function withHeaders(response: Response, headers: Record<string, string>): Response {
  try {
    for (const [k, v] of Object.entries(headers)) response.headers.set(k, v);
    return response;
  } catch {
    const out = new Response(response.body, response);
    for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
    return out;
  }
}
