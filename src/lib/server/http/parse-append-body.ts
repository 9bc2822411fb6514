// Turns a POST body into the value(s) to append, by content type: JSON, form fields, or text.
import { AppError } from '../errors.ts';

export type ParsedAppend = { values: unknown[]; redirect?: string; isForm: boolean };

export function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0].trim().toLowerCase();
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AppError('invalid_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
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

export async function parseAppendBody(request: Request, bytes: Uint8Array, { batch }: { batch: boolean }): Promise<ParsedAppend> {
  const type = mediaType(request);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (batch) {
    if (type && !JSON_TYPE.test(type)) throw new AppError('unsupported_media_type', 'A batch is a JSON array: send `Content-Type: application/json`.');
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
      try {
        return { values: [JSON.parse(trimmed)], isForm: false };
      } catch {
        /* a form field that happens to start with a bracket */
      }
    }
    const { fields, redirect } = fieldsToObject(new URLSearchParams(text).entries());
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
    return { values: [fields], redirect, isForm: true };
  }
  if (!type) throw new AppError('unsupported_media_type', 'Send a Content-Type: application/json, text/plain, or a form encoding.');
  throw new AppError('unsupported_media_type', `Content-Type \`${type}\` is not supported; use application/json, text/plain, or a form encoding.`);
}
