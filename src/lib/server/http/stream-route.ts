// The one helper behind every /s/{team}/{stream}/... route:
// authenticate → authorize → rate-limit → act → respond, with CORS and JSON errors throughout.
import type { RequestEvent, RequestHandler } from '@sveltejs/kit';
import { allowedOriginsOf, authorizeStream, type StreamAccess, type StreamGrant } from '../auth/authorize-stream.ts';
import { ensureStream } from '../streams/ensure-stream.ts';
import { callerLimiter, consume, publicStreamLimiter, rateLimitHeaders } from '../rate-limit.ts';
import { errorResponse } from './respond.ts';
import { AppError } from '../errors.ts';

export type StreamContext = StreamGrant & {
  event: RequestEvent;
  url: URL;
  /** Checks again that this caller may still do this (for answers that stay open): false once refused. */
  reauthorize(): Promise<boolean>;
};

const STREAM_FIELDS = { id: true, slug: true, teamId: true, length: true, allowedOrigins: true } as const;

const EXPOSED = 'Location, Link, ETag, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Pipet-Length, Pipet-Index, Pipet-Received-At, Pipet-Folded';

export function originAllowed(origin: string | null, allowed: string[]): boolean {
  return !!origin && (allowed.includes('*') || allowed.includes(origin));
}

function withCors(response: Response, origin: string | null, allowed: string[]): Response {
  if (!originAllowed(origin, allowed)) return response;
  // Responses from fetch() can have immutable headers; copy into a fresh Response.
  const out = new Response(response.body, response);
  out.headers.set('access-control-allow-origin', origin!);
  out.headers.set('access-control-expose-headers', EXPOSED);
  out.headers.append('vary', 'Origin');
  return out;
}

function withHeaders(response: Response, headers: Record<string, string>): Response {
  try {
    for (const [k, v] of Object.entries(headers)) response.headers.set(k, v);
    return response;
  } catch {
    const out = new Response(response.body, response);
    for (const [k, v] of Object.entries(headers)) out.headers.set(k, v);
    return out;
  }
}

/** The key from `Authorization: Bearer`, else from `?key=` (which authorizeStream accepts only for ingest keys). */
function credentialOf(event: RequestEvent): { key: string | null; keyFrom: 'header' | 'query' } {
  const header = event.request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return { key: match ? match[1] : header, keyFrom: 'header' };
  }
  return { key: event.url.searchParams.get('key'), keyFrom: 'query' };
}

export function streamRoute(access: StreamAccess, act: (ctx: StreamContext) => Promise<Response>): RequestHandler {
  return async (event) => {
    const origin = event.request.headers.get('origin');
    const { team: teamSlug, stream: streamSlug } = event.params as { team: string; stream: string };
    let allowed: string[] = [];
    try {
      const ask = { teamSlug, streamSlug, access, ...credentialOf(event), userId: (event.locals as { user?: { id: string } | null }).user?.id ?? null };
      const grant = await authorizeStream(ask);
      // Appending with a team-wide ingest key creates a missing stream (the team's autoCreateStreams).
      const stream = grant.stream ?? (await ensureStream({ teamId: grant.team.id, slug: grant.createSlug, select: STREAM_FIELDS }));
      allowed = stream.allowedOrigins;
      // Anonymous callers share a limit per client address; keys and signed-in users have their own.
      const principal = grant.anonymous ? `anon:${event.getClientAddress()}` : grant.principal;
      const limit = grant.anonymous ? await consume(publicStreamLimiter(), event.getClientAddress()) : await consume(callerLimiter(grant.team.rateLimitPerMinute), principal);
      const reauthorize = async () => {
        try {
          const again = await authorizeStream(ask);
          return again.stream?.id === stream.id;
        } catch (error) {
          return !(error instanceof AppError) || error.code === 'unavailable';
        }
      };
      const response = withCors(await act({ stream, team: grant.team, anonymous: grant.anonymous, principal, event, url: event.url, reauthorize }), origin, allowed);
      return withHeaders(response, rateLimitHeaders(limit));
    } catch (error) {
      if (origin && allowed.length === 0) allowed = await allowedOriginsOf(teamSlug, streamSlug).catch(() => []);
      return withCors(errorResponse(error), origin, allowed);
    }
  };
}

/** CORS preflight for a stream route: allowed origins get the methods and headers they need. */
export function streamPreflight(): RequestHandler {
  return async (event) => {
    const origin = event.request.headers.get('origin');
    const { team, stream } = event.params as { team: string; stream: string };
    const allowed = await allowedOriginsOf(team, stream).catch(() => []);
    if (!originAllowed(origin, allowed)) return new Response(null, { status: 204 });
    return new Response(null, {
      status: 204,
      headers: {
        'access-control-allow-origin': origin!,
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID',
        'access-control-max-age': '600',
        vary: 'Origin',
      },
    });
  };
}
