// The one helper behind every public route — /s/{team}/{stream}/... and the Segment-compatible
// /v1/...: authenticate → authorize → rate-limit → act → respond, with CORS and JSON errors throughout.
import type { RequestEvent, RequestHandler } from '@sveltejs/kit';
import { allowedOriginsOf, authorizeStream, type StreamAccess, type StreamGrant } from '../auth/authorize-stream.ts';
import { ensureStream } from '../streams/ensure-stream.ts';
import { callerLimiter, consumeRequest, publicStreamLimiter, rateLimitHeaders, type RateLimitState } from '../rate-limit.ts';
import { authorizeWriteKey, writeKeyFromHeader, type WriteKeyGrant } from '../auth/authorize-write-key.ts';
import { errorResponse, withHeaders } from './respond.ts';
import { streamSession } from './csrf.ts';
import { AppError } from '../errors.ts';
import { sessionIsLive } from '../auth/sessions.ts';

export type StreamContext = StreamGrant & {
  event: RequestEvent;
  url: URL;
  /** Checks again that this caller may still do this (for answers that stay open): false once refused. */
  reauthorize(): Promise<boolean>;
};

const STREAM_FIELDS = { id: true, slug: true, teamId: true, length: true, allowedOrigins: true, signatureScheme: true, signatureSecret: true } as const;

const EXPOSED = 'Location, Link, ETag, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Pipet-Length, Pipet-Index, Pipet-Received-At, Pipet-Folded, Pipet-Keys';

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


/** The key from `Authorization: Bearer`, else from `?key=` (which authorizeStream accepts only for ingest keys). */
function credentialOf(event: RequestEvent): { key: string | null; keyFrom: 'header' | 'query' } {
  const header = event.request.headers.get('authorization');
  if (header) {
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    return { key: match ? match[1] : header, keyFrom: 'header' };
  }
  return { key: event.url.searchParams.get('key'), keyFrom: 'query' };
}

/** The steps of a public route; `runRoute` runs them in order and answers every failure as JSON. */
type RouteSteps<G> = {
  /** Who is asking and what they may act on; throws an AppError (401, 403, 404, …) otherwise. */
  authenticate(): Promise<G>;
  /** Spends one request of this caller's limits (its own, its team's, its account's). */
  limit(grant: G): Promise<RateLimitState>;
  act(grant: G): Promise<Response>;
  /** CORS for an answer, errors included (`grant` is undefined when authentication failed). */
  cors(response: Response, grant: G | undefined): Response | Promise<Response>;
};

/** authenticate → rate-limit → act → respond, with CORS on every answer and the one error shape. */
async function runRoute<G>(steps: RouteSteps<G>): Promise<Response> {
  let grant: G | undefined;
  try {
    grant = await steps.authenticate();
    const limit = await steps.limit(grant);
    return await steps.cors(withHeaders(await steps.act(grant), rateLimitHeaders(limit)), grant);
  } catch (error) {
    return steps.cors(errorResponse(error), grant);
  }
}

export function streamRoute(access: StreamAccess, act: (ctx: StreamContext) => Promise<Response>): RequestHandler {
  return async (event) => {
    const origin = event.request.headers.get('origin');
    const { team: teamSlug, stream: streamSlug } = event.params as { team: string; stream: string };
    // The session cookie counts for writes only from the app's own origin (csrf.ts).
    const session = streamSession(event);
    const ask = { teamSlug, streamSlug, access, ...credentialOf(event), userId: session.userId, userTwoFactor: event.locals.user?.twoFactor ?? false };
    // The session the cookie named, when it is what signs this request in: an open answer ends with it.
    const sessionId = session.userId ? (event.locals.session?.id ?? null) : null;
    return runRoute({
      async authenticate() {
        const grant = await authorizeStream(ask).catch(session.explain);
        // Appending with a team-wide ingest key creates a missing stream (the team's autoCreateStreams).
        const stream = grant.stream ?? (await ensureStream({ teamId: grant.team.id, teamSlug: grant.team.slug, slug: grant.createSlug, select: STREAM_FIELDS }));
        // Anonymous callers share a limit per client address; keys and signed-in users have their own.
        const principal = grant.principal === 'anon' ? `anon:${event.getClientAddress()}` : grant.principal;
        return { ...grant, stream, principal };
      },
      limit: (grant) => consumeRequest(grant.anonymous ? [publicStreamLimiter(), event.getClientAddress()] : [callerLimiter(grant.team.rateLimitPerMinute), grant.principal], grant.team),
      act({ stream, team, anonymous, principal }) {
        const reauthorize = async () => {
          try {
            // Logged out, ended from the sessions page, "log out everywhere", a password reset: the
            // session is gone (read without sliding its expiry), and so is what it opened.
            if (sessionId && principal === `user:${session.userId}` && !(await sessionIsLive(sessionId))) return false;
            const again = await authorizeStream(ask);
            return again.stream?.id === stream.id;
          } catch (error) {
            return !(error instanceof AppError) || error.code === 'unavailable';
          }
        };
        return act({ stream, team, anonymous, principal, event, url: event.url, reauthorize });
      },
      async cors(response, grant) {
        const allowed = grant ? grant.stream.allowedOrigins : origin ? await allowedOriginsOf(teamSlug, streamSlug).catch(() => []) : [];
        return withCors(response, origin, allowed);
      },
    });
  };
}

export type WriteKeyContext = WriteKeyGrant & { event: RequestEvent };

const ANY_ORIGIN = { 'access-control-allow-origin': '*', 'access-control-expose-headers': EXPOSED };

/**
 * A route for Segment-style write keys (/v1/…): the key from `Authorization`, else from the request
 * (`keyInRequest`: the body's `writeKey`, or the path); the key's own rate limit, shared with its
 * /s/… requests; CORS open to any origin, since the key is the credential and no cookie is read.
 */
export function writeKeyRoute(act: (ctx: WriteKeyContext) => Promise<Response>, keyInRequest: (event: RequestEvent) => Promise<string | null> = async () => null): RequestHandler {
  return (event) =>
    runRoute({
      async authenticate() {
        const key = writeKeyFromHeader(event.request.headers.get('authorization')) ?? (await keyInRequest(event));
        return authorizeWriteKey(key);
      },
      limit: (grant) => consumeRequest([callerLimiter(grant.team.rateLimitPerMinute), grant.principal], grant.team),
      act: (grant) => act({ ...grant, event }),
      cors: (response) => withHeaders(response, ANY_ORIGIN),
    });
}

/** CORS preflight for write-key routes: any origin, the headers the browser SDKs send. */
export function writeKeyPreflight(): RequestHandler {
  return async (event) =>
    new Response(null, {
      status: 204,
      headers: {
        ...ANY_ORIGIN,
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': event.request.headers.get('access-control-request-headers') ?? 'Authorization, Content-Type',
        'access-control-max-age': '600',
      },
    });
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
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type, Idempotency-Key, Last-Event-ID',
        'access-control-max-age': '600',
        vary: 'Origin',
      },
    });
  };
}
