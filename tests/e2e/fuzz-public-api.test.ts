// Property-based fuzz of the public stream API over real HTTP against the built server: random
// bodies (JSON or not, deep nesting, lone surrogates, numbers beyond a double, invalid UTF-8),
// content types, headers, indices and query values. Whatever comes in: never a 5xx, every
// refusal is the one JSON error shape with the status its code stands for, and an append that
// was refused stored nothing. Bounded: a fixed number of runs, a seed printed to reproduce.
import { beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeTeam, uniqueSlug, useWebServer, type TeamFixture } from '../helpers/context.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { ERROR_CODES, type ErrorCode } from '../../src/lib/server/errors.ts';

const { url: base, db } = useWebServer();
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 150);
const params = { seed: SEED, numRuns: RUNS, endOnFailure: true };

let team: TeamFixture;
let keys: Record<'rw' | 'ingest' | 'read' | 'manage', string>;
let stream: string;

beforeAll(async () => {
  console.info(`fuzz-public-api: seed ${SEED}, ${RUNS} runs per property (FUZZ_SEED=${SEED} reproduces)`);
  team = await makeTeam(db);
  keys = { rw: await team.key(['ingest', 'read']), ingest: await team.key(['ingest']), read: await team.key(['read']), manage: await team.key(['manage']) };
  stream = uniqueSlug('fuzz');
  const seeded = await postJson(`${base}/s/${team.slug}/${stream}/batch`, Array.from({ length: 5 }, (_, i) => ({ i })), bearer(keys.rw));
  expect(seeded.status).toBe(201);
});

type Answer = { status: number; headers: Headers; text: string };

/** Every answer of the public API: below 500, and a refusal is {"error":{"code","message"}} with its code's status. */
function checkAnswer(what: string, a: Answer): void {
  const context = `${what} → ${a.status} ${a.text.slice(0, 300)}`;
  expect(a.status, context).toBeLessThan(500);
  if (a.status < 400) return;
  expect(a.headers.get('content-type'), context).toMatch(/^application\/json/);
  const body = JSON.parse(a.text) as { error?: { code?: unknown; message?: unknown } };
  expect(typeof body.error?.code, context).toBe('string');
  expect(typeof body.error?.message === 'string' && body.error.message.length > 0, context).toBe(true);
  expect(ERROR_CODES[body.error!.code as ErrorCode]?.status, context).toBe(a.status);
}

async function sendOnce(url: string, init: RequestInit): Promise<Answer> {
  const controller = new AbortController();
  const res = await fetch(url, { ...init, redirect: 'manual', signal: controller.signal });
  if (res.ok && res.headers.get('content-type')?.startsWith('text/event-stream')) {
    controller.abort(); // a live tail: the headers are the answer
    return { status: res.status, headers: res.headers, text: '' };
  }
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** The client reused a keep-alive connection the server had just closed: no answer at all. */
function isStaleConnection(error: unknown): boolean {
  const code = ((error as { cause?: { code?: string } }).cause ?? {}).code;
  return code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE';
}

/**
 * One request; on a connection that died before any answer (an idle keep-alive socket closed by
 * the server while this loaded machine stalled the client), `beforeRetry` checks nothing
 * happened and the request is sent once more. A second failure fails the test.
 */
async function send(url: string, init: RequestInit = {}, beforeRetry: () => Promise<void> = async () => {}): Promise<Answer> {
  try {
    return await sendOnce(url, init);
  } catch (error) {
    if (!isStaleConnection(error)) throw error;
    console.info(`fuzz-public-api: ${init.method ?? 'GET'} ${url.slice(base.length, base.length + 80)} found its connection closed; checked and sent again`);
    await beforeRetry();
    return sendOnce(url, init);
  }
}

async function lengthOf(slug: string): Promise<number> {
  const a = await send(`${base}/s/${team.slug}/${slug}/length`, { headers: bearer(keys.rw) });
  expect(a.status, a.text).toBe(200);
  return JSON.parse(a.text) as number;
}

// ---- bodies -------------------------------------------------------------------------------

const deep = fc.integer({ min: 1, max: 6000 }).chain((n) => fc.constantFrom('['.repeat(n) + ']'.repeat(n), '{"a":'.repeat(n) + '1' + '}'.repeat(n)));
/** A JSON-ish element as text: valid JSON, or JSON that must be refused (surrogates, 1e400, NUL, depth). */
const element = fc.oneof(
  { weight: 6, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: fc.constantFrom('"\\ud800"', '"x\\udfff"', '{"\\udbff":1}', '"\\ud83d\\ude00"', '"\\u0000"', '1e400', '-1e999', '1e308', '5e-324', '1e-400', '-2.5e-999', '-0', '123456789012345678901234567890') },
  { weight: 1, arbitrary: deep },
);
const jsonText = fc.oneof(
  element,
  fc.array(element, { maxLength: 6 }).map((xs) => `[${xs.join(',')}]`),
  fc.string({ maxLength: 40 }), // mostly not JSON
  fc.constantFrom('', ' ', '[', '{"a":', '[1,]', 'null', '"unterminated', '\ufeff{"bom":1}', '[]'),
);
const bytes = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b));
const invalidUtf8 = fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom([0xff], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]), fc.string({ maxLength: 10 }))
  .map(([a, bad, b]) => Buffer.concat([Buffer.from(`"${a}`), Buffer.from(bad), Buffer.from(`${b}"`)]));
const formText = fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('%FF', '%C3%28', '%ED%A0%80', '100%', '%zz', 'a+b', 'https%3A%2F%2Fx.example%2F', 'javascript:alert(1)'))), { maxLength: 4 })
  .map((pairs) => pairs.map(([k, v], i) => `${i === 0 && k === '' ? '_redirect' : encodeURIComponent(k)}=${v}`).join('&'));
const oversized = fc.constant(`"${'x'.repeat(300 * 1024)}"`);
const body = fc.oneof(
  { weight: 8, arbitrary: jsonText },
  { weight: 2, arbitrary: bytes },
  { weight: 2, arbitrary: invalidUtf8 },
  { weight: 2, arbitrary: formText },
  { weight: 1, arbitrary: oversized },
);

const contentType = fc.constantFrom(
  'application/json', 'application/json; charset=utf-8', 'application/vnd.api+json', 'APPLICATION/JSON', 'text/plain', 'text/plain; charset=iso-8859-1',
  'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=xyz', 'application/octet-stream', 'text/html', '', 'garbage/;;;',
);

// ---- headers ------------------------------------------------------------------------------

/** Header values fetch can send: bytes 0x20–0xFF without DEL. */
const byteString = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c)), maxLength });
const authorization = fc.oneof(
  fc.constantFrom<'rw' | 'ingest' | 'read' | 'manage'>('rw', 'ingest', 'read', 'manage').map((k) => `Bearer ${keys[k]}`),
  fc.constantFrom('Bearer pk_nope_nope', 'Bearer', 'Basic dXNlcjpwYXNz', 'bearer  ', 'pk_x_y'),
  byteString(40),
);
const headers = fc.record(
  {
    authorization,
    'idempotency-key': fc.oneof(byteString(20), byteString(300)),
    origin: fc.constantFrom('https://customer.example', 'null', 'http://127.0.0.1', 'javascript:x'),
    accept: fc.constantFrom('application/json', 'text/html', 'text/html,application/json', '*/*'),
  },
  { requiredKeys: [] },
);

// ---- indices and queries --------------------------------------------------------------------

const RESERVED = new Set(['', '.', '..', 'batch', 'events', 'length', 'state']);
const indexText = fc.oneof(
  fc.integer({ min: -10, max: 10 }).map(String),
  fc.constantFrom('9007199254740993', '-9007199254740993', '1e3', '1.5', '-0', '0x10', ' 1', '%00', '%2F', '%E2%82%AC', '%ED%A0%80', '%FF', '4294967296', '2147483648', '+1'),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
).filter((s) => !RESERVED.has(s));
const queryValue = fc.oneof(fc.integer({ min: -20, max: 2000 }).map(String), indexText, fc.constant(''));
const query = (names: string[]) =>
  fc.array(fc.tuple(fc.constantFrom(...names), queryValue), { maxLength: 3 }).map((pairs) => (pairs.length ? `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}` : ''));
const readTarget = fc.oneof(
  query(['start', 'end', 'limit']).map((q) => ({ path: '', q })),
  fc.tuple(indexText, query(['x', 'at'])).map(([i, q]) => ({ path: `/${i}`, q })),
  query(['q']).map((q) => ({ path: '/length', q })),
  query(['from']).map((q) => ({ path: '/events', q })),
);
const streamName = fc.oneof({ weight: 6, arbitrary: fc.constant('$stream') }, { weight: 1, arbitrary: fc.constantFrom('Nope', 'caf%C3%A9', 'x'.repeat(80), '-lead', 'a_b', 'nope-such-stream') });
const keyInUrl = fc.option(fc.constantFrom<'rw' | 'ingest' | 'read' | 'manage'>('rw', 'ingest', 'read', 'manage'), { nil: undefined });

describe('fuzz: the public stream API', () => {
  it('answers every append without a 5xx, in the error shape, and a refused append stores nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), body, contentType, headers, keyInUrl, async (batch, payload, type, hdrs, urlKey) => {
        const target = `${base}/s/${team.slug}/${stream}${batch ? '/batch' : ''}${urlKey ? `?key=${keys[urlKey]}` : ''}`;
        const before = await lengthOf(stream);
        const h: Record<string, string> = { ...hdrs };
        if (type) h['content-type'] = type;
        const what = `POST ${batch ? '/batch' : '/'} ${JSON.stringify(h)} ${JSON.stringify(String(payload).slice(0, 200))}`;
        const a = await send(target, { method: 'POST', headers: h, body: payload }, async () => {
          expect(await lengthOf(stream), `${what}: the connection died after storing`).toBe(before);
        });
        checkAnswer(what, a);
        const after = await lengthOf(stream);
        if (a.status >= 400) expect(after, `${what}: refused (${a.status}) but the stream grew`).toBe(before);
        else if (a.status === 201) expect(after - before, what).toBe(batch ? (JSON.parse(a.text) as { count: number }).count : 1);
        else if (a.status === 200) expect(after, `${what}: a replay appended`).toBe(before);
        else if (a.status === 303) {
          expect([0, 1], what).toContain(after - before);
          expect(a.headers.get('location'), what).toMatch(/^https?:\/\//);
        } else expect.fail(`${what}: unexpected ${a.status}`);
      }),
      params,
    );
  }, 120_000);

  it('answers every read without a 5xx, in the error shape', async () => {
    await fc.assert(
      fc.asyncProperty(readTarget, streamName, headers, keyInUrl, async ({ path, q }, name, hdrs, urlKey) => {
        const slug = name === '$stream' ? stream : name;
        const sep = q ? '&' : '?';
        const url = `${base}/s/${team.slug}/${slug}${path}${q}${urlKey ? `${sep}key=${keys[urlKey]}` : ''}`;
        const a = await send(url, { headers: hdrs });
        checkAnswer(`GET ${url.slice(base.length)} ${JSON.stringify(hdrs)}`, a);
        if (a.status === 200 && path === '/length') expect(Number.isInteger(JSON.parse(a.text))).toBe(true);
      }),
      params,
    );
  }, 120_000);
});
