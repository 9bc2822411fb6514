// Turns a POST body into the value(s) to append, by content type: JSON, form fields, or text.
import { AppError } from '../errors.ts';
import { numberLiteralProblem } from '../streams/check-json.ts';

export type ParsedAppend = { values: unknown[]; redirect?: string; isForm: boolean };

export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as text. Invalid UTF-8 is refused, never replaced with U+FFFD: what is stored is what was sent. */
export function decodeUtf8(bytes: Uint8Array, what = 'The body'): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new AppError('bad_request', `${what} is not valid UTF-8.`);
  }
}

/** The only charset we read; a body declared in another one would be stored garbled. */
function checkCharset(request: Request): void {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(request.headers.get('content-type') ?? '')?.[1]?.toLowerCase();
  if (charset && charset !== 'utf-8' && charset !== 'utf8' && charset !== 'us-ascii') {
    throw new AppError('unsupported_media_type', `Bodies must be UTF-8, not ${charset}.`);
  }
}

const PERCENT = /%([0-9a-fA-F]{2})/g;

/**
 * application/x-www-form-urlencoded as the URL Standard parses it, except that a name or value
 * whose percent-escapes are not UTF-8 (`%FF`) is refused instead of silently replaced.
 */
export function parseUrlencoded(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const [name, value] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
    out.push([formComponent(name), formComponent(value)]);
  }
  return out;
}

function formComponent(raw: string): string {
  const plus = raw.replaceAll('+', ' ');
  if (!plus.includes('%')) return plus;
  const chunks: Buffer[] = [];
  let last = 0;
  for (const m of plus.matchAll(PERCENT)) {
    chunks.push(Buffer.from(plus.slice(last, m.index), 'utf8'), Buffer.of(parseInt(m[1], 16)));
    last = m.index + m[0].length;
  }
  chunks.push(Buffer.from(plus.slice(last), 'utf8'));
  return decodeUtf8(Buffer.concat(chunks), 'A form field');
}

/** JSON text as its value, refusing (400) a number JSON.parse would silently change (`1e-400` to 0). */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new AppError('invalid_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
  refuseInexactNumbers(text);
  return value;
}

function refuseInexactNumbers(text: string): void {
  const problem = numberLiteralProblem(text);
  if (problem) throw new AppError('bad_request', `The body cannot be stored: ${problem}.`);
}

/** Form fields as an object; a repeated name becomes an array, in order. */
export function fieldsToObject(entries: Iterable<[string, FormDataEntryValue]>): { fields: Record<string, unknown>; redirect?: string } {
  const fields: Record<string, unknown> = Object.create(null);
  let redirect: string | undefined;
  for (const [name, value] of entries) {
    if (typeof value !== 'string') throw new AppError('unsupported_media_type', `Field \`${name}\` is a file; only text fields can be appended.`);
    if (name === '_redirect') {
      redirect = value;
      continue;
    }
    const prior = fields[name];
    fields[name] = prior === undefined ? value : Array.isArray(prior) ? [...prior, value] : [prior, value];
  }
  return { fields: { ...fields }, redirect };
}

const JSON_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/;
const TEXT_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

export async function parseAppendBody(request: Request, bytes: Uint8Array, { batch }: { batch: boolean }): Promise<ParsedAppend> {
  const type = mediaType(request);
  if (batch && type && !JSON_TYPE.test(type)) throw new AppError('unsupported_media_type', 'A batch is a JSON array: send `Content-Type: application/json`.');
  if (!batch && !JSON_TYPE.test(type) && !TEXT_TYPES.has(type)) {
    if (!type) throw new AppError('unsupported_media_type', 'Send a Content-Type: application/json, text/plain, or a form encoding.');
    throw new AppError('unsupported_media_type', `Content-Type \`${type}\` is not supported; use application/json, text/plain, or a form encoding.`);
  }
  checkCharset(request);
  // Multipart bodies are checked after their parts are (file parts are refused with 415 first).
  const text = type === 'multipart/form-data' ? '' : decodeUtf8(bytes);
  if (batch) {
    const value = parseJson(text);
    if (!Array.isArray(value)) throw new AppError('bad_request', 'A batch must be a JSON array.');
    return { values: value, isForm: false };
  }
  if (JSON_TYPE.test(type)) {
    if (!text.trim()) throw new AppError('invalid_json', 'The body is empty; send a JSON value.');
    return { values: [parseJson(text)], isForm: false };
  }
  if (type === 'text/plain') return { values: [text], isForm: false };
  if (type === 'application/x-www-form-urlencoded') {
    // `curl -d '{"a":1}'` sends JSON labelled as a form; a body that is a JSON object or array
    // is taken as the JSON the sender meant.
    const trimmed = text.trim();
    if (/^[[{]/.test(trimmed)) {
      let value: unknown;
      try {
        value = JSON.parse(trimmed);
      } catch {
        /* a form field that happens to start with a bracket */
      }
      if (value !== undefined) {
        refuseInexactNumbers(trimmed);
        return { values: [value], isForm: false };
      }
    }
    const { fields, redirect } = fieldsToObject(parseUrlencoded(text));
    return { values: [fields], redirect, isForm: true };
  }
  if (type === 'multipart/form-data') {
    let form: FormData;
    try {
      form = await new Response(bytes as BodyInit, { headers: { 'content-type': request.headers.get('content-type')! } }).formData();
    } catch {
      throw new AppError('bad_request', 'The multipart form body could not be parsed.');
    }
    const { fields, redirect } = fieldsToObject(form.entries());
    // Only text fields are left, so the whole body must be UTF-8 (the parser would replace bad bytes).
    decodeUtf8(bytes);
    return { values: [fields], redirect, isForm: true };
  }
  if (!type) throw new AppError('unsupported_media_type', 'Send a Content-Type: application/json, text/plain, or a form encoding.');
  throw new AppError('unsupported_media_type', `Content-Type \`${type}\` is not supported; use application/json, text/plain, or a form encoding.`);
}
