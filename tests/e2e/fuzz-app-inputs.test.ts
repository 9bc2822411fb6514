// Property-based fuzz of everything outside /s/ and /v1/ that takes input, over real HTTP against
// the built server: tRPC calls (/api/trpc, queries and mutations) and the form routes (log-in,
// sign-up, invites), with NULs, lone surrogates, invalid UTF-8, strings over the bound and numbers
// that JSON.parse would turn into 0 or Infinity. Whatever comes in: never a 5xx, and what is
// accepted is stored as sent. A server of its own, so the fuzzed log-ins spend no shared limit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { makeStream, makeTeam, uniqueSlug, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer } from '../helpers/http.ts';
import { MAX_INPUT_STRING_LENGTH } from '../../src/lib/server/http/check-input.ts';

const own = await useOwnDatabase('fuzzapp');
const { db } = await import('../../src/lib/server/db/client.ts');

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const RUNS = Number(process.env.FUZZ_RUNS ?? 100);
const params = { seed: SEED, numRuns: RUNS, endOnFailure: true };

let web: Running;
let team: TeamFixture;
let manage: string;
let stream: string;
beforeAll(async () => {
  console.info(`fuzz-app-inputs: seed ${SEED}, ${RUNS} runs per property (FUZZ_SEED=${SEED} reproduces)`);
  web = await startWeb({ ...own.env, AUTH_RATE_LIMIT_PER_ADDRESS: '1000000', AUTH_RATE_LIMIT_PER_ACCOUNT: '1000000', DRY_RUN_RATE_LIMIT_PER_MINUTE: '1000000' });
  team = await makeTeam(db());
  manage = await team.key(['manage']);
  stream = uniqueSlug('fuzz');
  await makeStream(db(), { teamId: team.id, slug: stream, name: stream });
}, 60_000);
afterAll(() => web?.stop());

type Answer = { status: number; text: string };

function checkAnswer(what: string, a: Answer): void {
  expect(a.status, `${what} → ${a.status} ${a.text.slice(0, 300)}`).toBeLessThan(500);
}

// ---- values -------------------------------------------------------------------------------

const HUGE = 'x'.repeat(MAX_INPUT_STRING_LENGTH + 1);
/** Stands for HUGE in generated values, swapped in as a request is sent: a failure prints a line, not a megabyte. */
const HUGE_MARK = '<a string over the bound>';
const MARKS = [HUGE_MARK, encodeURIComponent(HUGE_MARK)];
function inflate(text: string): string {
  return MARKS.reduce((t, mark) => t.replaceAll(mark, mark === HUGE_MARK ? HUGE : encodeURIComponent(HUGE)), text);
}
/**
 * For a URL path: far over any token's bound, yet within Node's 16 KiB header limit. A megabyte URL
 * is cut off by Node's own parser (431, connection closed) while the client may still be writing:
 * a reset that says nothing about Pipet.
 */
const LONG_IN_URL = 'x'.repeat(8 * 1024);
function inflatePath(path: string): string {
  return MARKS.reduce((t, mark) => t.replaceAll(mark, LONG_IN_URL), path);
}
function inflateBytes(bytes: Buffer): Buffer {
  const at = bytes.indexOf(HUGE_MARK);
  return at < 0 ? bytes : Buffer.concat([bytes.subarray(0, at), Buffer.from(HUGE), inflateBytes(bytes.subarray(at + HUGE_MARK.length))]);
}
/** Strings as a hostile client sends them: ordinary, or with NUL, lone surrogates, U+FFFD, or over the bound. */
const nasty = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20, unit: 'binary' }) }, // lone surrogates included
  { weight: 3, arbitrary: fc.constantFrom('\0', 'a\0b', '\ud800', 'x\udfff', '\udbff\ud800', '😀', '\ufffd', 'acme', 'a@example.com', 'Acme <a@acme.example>', ' ', '') },
  { weight: 1, arbitrary: fc.constant(HUGE_MARK) },
);
/** Number literals written into the JSON text as they are (JSON.stringify never writes the odd ones). */
const numberLiteral = fc.oneof(fc.integer({ min: -5, max: 1000 }).map(String), fc.constantFrom('1e-400', '-1e-400', '0.1e-323', '1e400', '-1e999', '5e-324', '-0', '1.5', '1e2'));
/** A JSON value as text, with nasty strings (and keys) and raw number literals. */
const jsonValue: fc.Arbitrary<string> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nasty.map((s) => JSON.stringify(s)),
    numberLiteral,
    fc.constantFrom('true', 'null'),
    fc.array(tie('value'), { maxLength: 3 }).map((xs) => `[${xs.join(',')}]`),
    fc.array(fc.tuple(nasty, tie('value')), { maxLength: 3 }).map((kv) => `{${kv.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
  ),
})).value;

// ---- tRPC calls ---------------------------------------------------------------------------

const str = (s: string) => JSON.stringify(s);
/** One call: the procedure, GET or POST, and its input as JSON text. */
const call = fc.oneof(
  nasty.map((name) => ({ path: 'team.rename', method: 'POST', input: `{"team":${str(team.slug)},"name":${str(name)}}`, renamed: name })),
  nasty.map((emailFrom) => ({ path: 'team.update', method: 'POST', input: `{"team":${str(team.slug)},"emailFrom":${str(emailFrom)}}` })),
  fc.tuple(nasty, nasty).map(([slug, name]) => ({ path: 'stream.create', method: 'POST', input: `{"team":${str(team.slug)},"stream":${str(slug)},"name":${str(name)}}` })),
  fc.tuple(nasty, nasty).map(([name, origin]) => ({ path: 'stream.update', method: 'POST', input: `{"team":${str(team.slug)},"stream":${str(stream)},"name":${str(name)},"allowedOrigins":[${str(origin)}]}` })),
  nasty.map((name) => ({ path: 'apiKey.create', method: 'POST', input: `{"team":${str(team.slug)},"name":${str(name)},"scopes":["read"]}` })),
  fc.tuple(fc.constantFrom('(s) => s', '(s, e) => e', '('), jsonValue).map(([code, initial]) => ({
    path: 'reducer.upsert',
    method: 'POST',
    input: `{"team":${str(team.slug)},"stream":${str(stream)},"name":"r","code":${str(code)},"initialState":${initial}}`,
  })),
  fc.tuple(nasty, numberLiteral).map(([name, index]) => ({ path: 'reducer.stateAt', method: 'GET', input: `{"team":${str(team.slug)},"stream":${str(stream)},"name":${str(name)},"index":${index}}` })),
  nasty.map((token) => ({ path: 'invite.preview', method: 'GET', input: `{"token":${str(token)}}` })),
  nasty.map((email) => ({ path: 'invite.create', method: 'POST', input: `{"team":${str(team.slug)},"email":${str(email)}}` })),
  nasty.map((id) => ({ path: 'effect.get', method: 'GET', input: `{"team":${str(team.slug)},"id":${str(id)}}` })),
  jsonValue.map((v) => ({ path: 'team.rename', method: 'POST', input: v })), // not even an object
);

async function trpc({ path, method, input }: { path: string; method: string; input: string }): Promise<Answer> {
  // A query's input travels in the URL: there, a string over the bound is one Node's header limit can still read.
  const body = method === 'GET' ? inflatePath(`{"json":${input}}`) : inflate(`{"json":${input}}`);
  const res =
    method === 'GET'
      ? await fetch(`${web.url}/api/trpc/${path}?input=${encodeURIComponent(body)}`, { headers: bearer(manage) })
      : await fetch(`${web.url}/api/trpc/${path}`, { method: 'POST', headers: { ...bearer(manage), 'content-type': 'application/json' }, body });
  return { status: res.status, text: await res.text() };
}

// ---- forms --------------------------------------------------------------------------------

/** A form field's value, percent-encoded as a browser (or not) would send it: including escapes that are not UTF-8. */
const encodedValue = fc.oneof(
  nasty.filter((s) => s.isWellFormed()).map(encodeURIComponent),
  fc.constantFrom('%00', 'a%00b', '%ED%A0%80', '%FF', '%C3%28', '%E2%82', '%F8%88%80%80%80', 'correct+horse+battery', '%'),
);
const formBody = fc.record({ email: encodedValue, password: encodedValue, redirectTo: fc.option(encodedValue, { nil: undefined }) });
/** The same fields as multipart, each value's bytes as given (invalid UTF-8 included). */
const multipartBody = fc.record({
  email: fc.oneof(nasty.filter((s) => s.isWellFormed()).map((s) => Buffer.from(s)), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b))),
  password: fc.oneof(fc.constant(Buffer.from('correct horse battery')), fc.uint8Array({ minLength: 8, maxLength: 16 }).map((b) => Buffer.from(b))),
});
const BOUNDARY = 'fuzzboundary7MA4YWxk';
function multipart(fields: Record<string, Buffer>): Buffer {
  const parts = Object.entries(fields).map(([name, value]) => Buffer.concat([Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n`), value, Buffer.from('\r\n')]));
  return Buffer.concat([...parts, Buffer.from(`--${BOUNDARY}--\r\n`)]);
}

const formRequest = fc.oneof(
  fc.tuple(fc.constantFrom('/login', '/signup'), formBody).map(([path, f]) => ({
    path,
    type: 'application/x-www-form-urlencoded',
    body: Object.entries(f).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join('&') as string | Buffer,
  })),
  fc.tuple(fc.constantFrom('/login', '/signup'), multipartBody).map(([path, f]) => ({ path, type: `multipart/form-data; boundary=${BOUNDARY}`, body: multipart(f) as string | Buffer })),
  encodedValue.map((token) => ({ path: `/invite/${token || 'x'}?/accept`, type: 'application/x-www-form-urlencoded', body: '' as string | Buffer })),
);

/** Invite links as typed or pasted: long, with escapes that are not UTF-8, NUL. */
const inviteToken = fc.oneof(
  fc.integer({ min: 1, max: 400 }).map((n) => 'a'.repeat(n)),
  encodedValue.filter((v) => v.length > 0),
  fc.string({ minLength: 1, maxLength: 40 }).map(encodeURIComponent),
);

describe('fuzz: the management API and the form routes', () => {
  it('answers every tRPC call without a 5xx, and a team renamed is renamed exactly', async () => {
    await fc.assert(
      fc.asyncProperty(call, async (c) => {
        const a = await trpc(c);
        const what = `${c.method} ${c.path} ${c.input.slice(0, 200)}`;
        checkAnswer(what, a);
        if ('renamed' in c && a.status === 200) {
          const { name } = await db().team.findUniqueOrThrow({ where: { id: team.id }, select: { name: true } });
          expect(name, what).toBe(inflate(c.renamed).trim());
        }
      }),
      params,
    );
  }, 300_000);

  it('answers every log-in, sign-up and invite form without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(formRequest, async ({ path, type, body }) => {
        const res = await fetch(`${web.url}${inflatePath(path)}`, { method: 'POST', redirect: 'manual', headers: { origin: web.url, 'content-type': type }, body: typeof body === 'string' ? inflate(body) : new Uint8Array(inflateBytes(body)) });
        checkAnswer(`POST ${path} ${JSON.stringify(String(body).slice(0, 200))}`, { status: res.status, text: await res.text() });
      }),
      params,
    );
  }, 300_000);

  it('answers every invite link without a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(inviteToken, async (token) => {
        const res = await fetch(`${web.url}/invite/${inflatePath(token)}`, { redirect: 'manual' });
        checkAnswer(`GET /invite/${token.slice(0, 200)}`, { status: res.status, text: await res.text() });
      }),
      params,
    );
  }, 300_000);
});
