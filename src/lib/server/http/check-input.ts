// Inputs outside the public APIs are checked like /s/ bodies before anything reads them: no NUL
// (PostgreSQL text cannot hold one: a 500), no lone UTF-16 surrogate (not Unicode: PostgreSQL
// refuses it, and Prisma would silently store U+FFFD), strings bounded, bytes that are UTF-8, and
// no JSON number that JSON.parse would change. A refusal is 400 and nothing runs.
import type { Handle } from '@sveltejs/kit';
import { AppError } from '../errors.ts';
import { MAX_JSON_DEPTH, numberLiteralProblem } from '../streams/check-json.ts';
import { isPublicApi } from './csrf.ts';
import { decodeUtf8, mediaType, parseUrlencoded } from './parse-append-body.ts';
import { errorResponse } from './respond.ts';

/** The longest string any input may hold (a reducer's code or initial state fits well within it); fields have tighter bounds of their own. */
export const MAX_INPUT_STRING_LENGTH = 1024 * 1024;

/** What is wrong with `s` as an input string, or null. */
export function stringProblem(s: string): string | null {
  if (s.length > MAX_INPUT_STRING_LENGTH) return `is longer than ${MAX_INPUT_STRING_LENGTH} characters`;
  if (s.includes('\0')) return 'contains the NUL character (\\u0000)';
  if (!s.isWellFormed()) return 'contains a lone UTF-16 surrogate (such as "\\ud800"), which is not valid Unicode';
  return null;
}

const isPlainObject = (v: object): v is Record<string, unknown> => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

const shown = (key: string) => (key.length > 40 ? `${key.slice(0, 37)}...` : key);

/**
 * Why `value` (a tRPC call's input, as deserialized) cannot be taken, naming where, or null. Walks
 * arrays and plain objects without recursion, so no nesting can overflow the stack.
 */
export function inputProblem(value: unknown): string | null {
  const stack: [unknown, string, number][] = [[value, 'input', 0]];
  while (stack.length > 0) {
    const [v, path, depth] = stack.pop()!;
    if (typeof v === 'string') {
      const problem = stringProblem(v);
      if (problem) return `${path} ${problem}`;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `${path} is not a finite number`;
    } else if (v !== null && typeof v === 'object' && (Array.isArray(v) || isPlainObject(v))) {
      if (depth >= MAX_JSON_DEPTH) return `${path} is nested deeper than ${MAX_JSON_DEPTH} levels`;
      for (const [key, item] of Object.entries(v)) {
        const problem = stringProblem(key);
        if (problem) return `a key in ${path} ${problem}`;
        stack.push([item, Array.isArray(v) ? `${path}[${key}]` : `${path}.${shown(key)}`, depth + 1]);
      }
    }
  }
  return null;
}

/** Form fields as name/value pairs: the first field whose name or value cannot be taken, or null. */
export function fieldsProblem(fields: Iterable<[string, string]>): string | null {
  for (const [name, value] of fields) {
    const problem = stringProblem(name) ?? stringProblem(value);
    if (problem) return `Form field \`${shown(name.replaceAll('\0', '\\u0000'))}\` ${problem}.`;
  }
  return null;
}

/**
 * A form body's text fields, decoded strictly: percent-escapes and multipart bytes that are not
 * UTF-8 are refused (the platform's parsers would replace them with U+FFFD). File parts are
 * passed over.
 */
async function formFields(request: Request, bytes: Uint8Array): Promise<[string, string][]> {
  if (mediaType(request) !== 'multipart/form-data') return parseUrlencoded(decodeUtf8(bytes, 'The form'));
  let form: FormData;
  try {
    form = await new Response(bytes as BodyInit, { headers: { 'content-type': request.headers.get('content-type')! } }).formData();
  } catch {
    throw new AppError('bad_request', 'The multipart form body could not be parsed.');
  }
  const fields: [string, string][] = [];
  let files = 0;
  for (const [name, value] of form.entries()) {
    if (typeof value === 'string') fields.push([name, value]);
    else files++;
  }
  // Text fields only: then every byte of the body is text, and must be UTF-8.
  if (files === 0) decodeUtf8(bytes, 'The form');
  return fields;
}

/** The JSON text of a tRPC request: the GET `input` parameter (decoded strictly), or the POST body. */
async function trpcText(request: Request, url: URL): Promise<string | null> {
  if (request.method === 'GET') return parseUrlencoded(url.search.slice(1)).find(([name]) => name === 'input')?.[1] ?? null;
  if (request.method !== 'POST') return null;
  return decodeUtf8(new Uint8Array(await request.clone().arrayBuffer()), 'The request body');
}

const FORM_TYPES = new Set(['application/x-www-form-urlencoded', 'multipart/form-data']);

/** Why this request's input cannot be taken, or null. /s/ and /v1/ check their own bodies. */
async function requestProblem(request: Request, url: URL): Promise<string | null> {
  if (isPublicApi(url.pathname)) return null;
  if (url.pathname.startsWith('/api/trpc/')) {
    const text = await trpcText(request, url);
    const problem = text === null ? null : numberLiteralProblem(text);
    return problem && `The input cannot be taken: ${problem}.`;
  }
  if (request.method === 'POST' && FORM_TYPES.has(mediaType(request))) {
    return fieldsProblem(await formFields(request, new Uint8Array(await request.clone().arrayBuffer())));
  }
  return null;
}

/**
 * Form actions and /api/trpc, before they run. (Strings inside tRPC inputs are checked by the
 * procedures' middleware, trpc/init.ts, which also covers in-process calls.)
 */
export const handleInputChecks: Handle = async ({ event, resolve }) => {
  let problem: string | null;
  try {
    problem = await requestProblem(event.request, event.url);
  } catch (error) {
    // Our own refusals (bad UTF-8, a malformed form); anything else (a body over the size limit)
    // is left to the route, which reads the body again and answers it.
    if (!(error instanceof AppError)) return resolve(event);
    problem = error.message;
  }
  return problem ? errorResponse(new AppError('bad_request', problem)) : resolve(event);
};
