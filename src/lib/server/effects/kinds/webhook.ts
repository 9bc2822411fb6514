// `request(url, { method = "POST", headers, body })`: a signed HTTP call (Standard Webhooks).
import { z } from 'zod';
import { dueNow, hostOf, httpUrl, parseArgs, type EffectSpec } from './define.ts';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by Pipet on every delivery; a reducer may not set them. */
export const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'];
const RESERVED = new Set([...SIGNATURE_HEADERS, 'host', 'content-length']);

export const WebhookPayload = z.object({
  url: z.string().min(1).max(4096),
  method: z.string().regex(/^[A-Za-z]+$/).max(16).default('POST'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.unknown().optional(),
});
export type WebhookPayload = z.infer<typeof WebhookPayload>;

const Headers = z.record(z.string(), z.unknown(), { error: 'headers must be an object of strings' }).check((ctx) => {
  const names = Object.keys(ctx.value);
  if (names.length > 50) ctx.issues.push({ code: 'custom', input: ctx.value, message: 'at most 50 headers' });
  for (const name of names) {
    const value = ctx.value[name];
    if (!HEADER_NAME.test(name)) ctx.issues.push({ code: 'custom', input: name, message: `invalid header name ${JSON.stringify(name)}` });
    else if (RESERVED.has(name.toLowerCase())) ctx.issues.push({ code: 'custom', input: name, message: `header ${name} is set by Pipet` });
    else if (typeof value !== 'string' || /[\r\n]/.test(value) || value.length > 8192) ctx.issues.push({ code: 'custom', input: value, message: `header ${name} must be a single-line string` });
  }
});

const Args = z.object({
  url: httpUrl('url'),
  options: z
    .object(
      {
        method: z.string({ error: 'method must be one of GET, POST, PUT, PATCH, DELETE' }).transform((m) => m.toUpperCase()).pipe(z.enum(METHODS, { error: 'method must be one of GET, POST, PUT, PATCH, DELETE' })).default('POST'),
        headers: Headers.nullish().transform((h) => (h ?? {}) as Record<string, string>),
        body: z.json().optional(),
      },
      { error: 'options must be an object { method, headers, body }' },
    )
    .nullish(),
});

const signature = { name: 'request', params: ['url', 'options'] } as const;

export const webhook: EffectSpec<WebhookPayload> = {
  kind: 'webhook',
  signature,
  record(args) {
    const { url, options } = parseArgs({ signature }, Args, args);
    return { url, method: options?.method ?? 'POST', headers: options?.headers ?? {}, body: options?.body ?? null };
  },
  payload: WebhookPayload,
  queue: 'deliver',
  dueAt: dueNow,
  summary: (p) => `${p.method} ${p.url}`,
  destination: (p) => hostOf(p.url),
};
