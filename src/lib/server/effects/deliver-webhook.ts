// One webhook attempt: checked destination, Standard Webhooks signature, hard timeout, redirects
// not followed, and a short excerpt of whatever the receiver answered.
import http from 'node:http';
import https from 'node:https';
import { resolveDestination, pinnedLookup, RefusedDestination, type ResolveOptions } from './ssrf.ts';
import { signWebhook } from './sign-webhook.ts';
import type { WebhookPayload } from './kinds/webhook.ts';
import { hostOf } from './kinds/define.ts';
import type { AttemptResult } from './retry-schedule.ts';

export const EXCERPT_CHARS = 500;
const READ_LIMIT_BYTES = 16 * 1024;
const USER_AGENT = 'Pipet-Webhooks/1';

// Headers a reducer may not set: the signature's own, and those the transport owns.
const RESERVED = new Set(['webhook-id', 'webhook-timestamp', 'webhook-signature', 'host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'proxy-authorization', 'proxy-connection']);

export type WebhookAttempt = { result: AttemptResult; statusCode?: number; error?: string; responseExcerpt?: string };

export type DeliverWebhookOptions = { id: string; secret: string; payload: WebhookPayload; timeoutMs: number; allowPrivate?: boolean; now?: () => number; resolve?: ResolveOptions['resolve'] };

class DeadlineExceeded extends Error {}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new DeadlineExceeded()), ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Calls the receiver once. Never throws: every outcome is an attempt to record. */
export async function deliverWebhook({ id, secret, payload, timeoutMs, allowPrivate, now = Date.now, resolve }: DeliverWebhookOptions): Promise<WebhookAttempt> {
  // One deadline for the whole attempt, name resolution included: a slow DNS answer is a timeout too.
  const deadline = Date.now() + timeoutMs;
  let destination;
  try {
    destination = await withDeadline(resolveDestination(payload.url, { ...(allowPrivate === undefined ? {} : { allowPrivate }), ...(resolve ? { resolve } : {}) }), timeoutMs);
  } catch (error) {
    if (error instanceof DeadlineExceeded) return { result: 'retryable', error: `Timed out after ${timeoutMs} ms (resolving ${hostOf(payload.url)}).` };
    const refused = error instanceof RefusedDestination;
    return { result: refused ? 'permanent' : 'retryable', error: (error as Error).message };
  }
  const method = payload.method.toUpperCase();
  const body = payload.body === undefined ? '' : JSON.stringify(payload.body);
  const headers: Record<string, string> = { 'user-agent': USER_AGENT };
  for (const [name, value] of Object.entries(payload.headers)) {
    if (!RESERVED.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  if (body !== '' && !headers['content-type']) headers['content-type'] = 'application/json';
  Object.assign(headers, signWebhook({ secret, id, timestamp: Math.floor(now() / 1000), body }), { 'content-length': String(Buffer.byteLength(body)) });

  const { url } = destination;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<WebhookAttempt>((resolve) => {
    let settled = false;
    const finish = (outcome: WebhookAttempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    const req = transport.request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method,
        headers,
        auth: url.username ? `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}` : undefined,
        // The checked address, not a second DNS answer; no pooled sockets to anywhere else.
        lookup: pinnedLookup(destination),
        agent: false,
      },
      (res) => {
        const statusCode = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const excerpt = Buffer.concat(chunks).toString('utf8').slice(0, EXCERPT_CHARS);
          if (statusCode >= 200 && statusCode < 300) return finish({ result: 'delivered', statusCode, responseExcerpt: excerpt });
          if (statusCode === 410) return finish({ result: 'permanent', statusCode, responseExcerpt: excerpt, error: '410 Gone: the receiver asked for no more deliveries.' });
          if (statusCode >= 300 && statusCode < 400) {
            const location = res.headers.location ? ` to ${res.headers.location.slice(0, 200)}` : '';
            return finish({ result: 'retryable', statusCode, responseExcerpt: excerpt, error: `Redirect${location} not followed: webhooks must answer 2xx themselves.` });
          }
          finish({ result: 'retryable', statusCode, responseExcerpt: excerpt, error: `HTTP ${statusCode}` });
        };
        res.on('data', (chunk: Buffer) => {
          if (size < READ_LIMIT_BYTES) chunks.push(chunk);
          size += chunk.length;
          if (size >= READ_LIMIT_BYTES) done();
        });
        res.on('end', done);
        res.on('error', done);
      },
    );
    const timer = setTimeout(() => finish({ result: 'retryable', error: `Timed out after ${timeoutMs} ms.` }), Math.max(0, deadline - Date.now()));
    req.on('error', (error: Error & { code?: string }) => finish({ result: 'retryable', error: `${error.code ? `${error.code}: ` : ''}${error.message}` }));
    req.end(body);
  });
}
