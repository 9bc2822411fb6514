// Bodies that used to answer 500 or be stored as something else than was sent: lone surrogates,
// deep nesting, numbers beyond a double and invalid UTF-8 are refused with 400; charsets we do
// not read with 415. Pure: no server, no database.
import { describe, expect, it } from 'vitest';
import { jsonProblem, MAX_JSON_DEPTH, numberLiteralProblem } from '../../src/lib/server/streams/check-json.ts';
import { encodeBodies } from '../../src/lib/server/streams/append-events.ts';
import { parseAppendBody, parseUrlencoded } from '../../src/lib/server/http/parse-append-body.ts';

const LIMITS = { event: 256 * 1024, batch: 4 * 1024 * 1024 };
const nested = (levels: number) => JSON.parse('['.repeat(levels) + ']'.repeat(levels));

function post(body: string | Uint8Array, contentType: string) {
  const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
  return { request: new Request('http://pipet.test/s/t/s', { method: 'POST', headers: { 'content-type': contentType } }), bytes };
}
async function parsed(body: string | Uint8Array, contentType: string, batch = false) {
  const { request, bytes } = post(body, contentType);
  return parseAppendBody(request, bytes, { batch });
}
const refusal = (p: Promise<unknown>) => p.then(() => null, (e: { code: string; status: number; message: string }) => ({ status: e.status, message: e.message }));

describe('jsonProblem', () => {
  it.each([
    ['a lone high surrogate', '\ud800', /lone UTF-16 surrogate/],
    ['a lone low surrogate in an array', ['ok', 'x\udc00'], /lone UTF-16 surrogate/],
    ['a lone surrogate in a key', { ['k\ud800']: 1 }, /key contains a lone/],
    ['Infinity', Infinity, /out of range/],
    ['-Infinity deep inside', { a: [{ b: -Infinity }] }, /out of range/],
    ['NaN', NaN, /out of range/],
    [`${MAX_JSON_DEPTH + 1} levels of arrays`, nested(MAX_JSON_DEPTH + 1), /nested deeper than 512 levels/],
    ['100,000 levels of arrays', nested(100_000), /nested deeper than 512 levels/],
  ])('refuses %s', (_name, value, message) => {
    expect(jsonProblem(value)).toMatch(message);
  });

  it.each([
    ['a surrogate pair', '😀 \ud83d\ude00'],
    ['U+FFFD itself', '\ufffd'],
    [`${MAX_JSON_DEPTH} levels of arrays`, nested(MAX_JSON_DEPTH)],
    ['big but finite numbers', [1.7976931348623157e308, -5e-324, 0]],
    ['every JSON type', { s: 'x', n: 1, t: true, f: false, z: null, a: [], o: {} }],
  ])('accepts %s', (_name, value) => {
    expect(jsonProblem(value)).toBeNull();
  });
});

describe('numberLiteralProblem', () => {
  it.each([
    ['1e-400, which JSON.parse makes 0', '{"a":1e-400}', /too small .*\(1e-400\) and would be stored as 0/],
    ['a negative underflow', '[-2.5E-999]', /too small/],
    ['0.1e-323, just under the smallest double', '[0.1e-323]', /too small/],
    ['400 zeros after the point', `[0.${'0'.repeat(400)}1]`, /too small/],
    ['1e400, which JSON.parse makes Infinity', '{"n":1e400}', /out of range \(1e400\)/],
    ['400 digits', `[1${'0'.repeat(400)}]`, /out of range/],
  ])('refuses %s', (_name, text, message) => {
    expect(numberLiteralProblem(text)).toMatch(message);
  });

  it.each([
    ['zero written with an exponent', '[0e-400, 0.0E5, -0]'],
    ['the smallest and largest doubles', '[5e-324, 1.7976931348623157e308]'],
    ['numbers inside strings', '{"1e-400":"1e400","s":"\\"1e-999"}'],
    ['ordinary numbers', '{"a":[1,2.5,-3e-7,4E+10]}'],
  ])('accepts %s', (_name, text) => {
    expect(numberLiteralProblem(text)).toBeNull();
  });
});

describe('encodeBodies', () => {
  it.each([
    ['"\\ud800"', [JSON.parse('"\\ud800"')]],
    ['1e400', [JSON.parse('1e400')]],
    ['5,000 levels', [nested(5000)]],
    ['a batch with one bad element', [1, 2, JSON.parse('{"n":-1e400}')]],
  ])('refuses %s with 400 instead of storing something else or failing with 500', (_name, bodies) => {
    expect(() => encodeBodies(bodies, LIMITS)).toThrow(expect.objectContaining({ code: 'bad_request', status: 400 }));
  });

  it('names the element of a batch', () => {
    expect(() => encodeBodies([1, 2, Infinity], LIMITS)).toThrow(/Element 2 cannot be stored: a number is out of range/);
  });
});

describe('parseAppendBody', () => {
  it.each([
    ['JSON with an invalid UTF-8 byte', Uint8Array.of(0x22, 0x61, 0xff, 0x22), 'application/json'],
    ['text with a truncated sequence', Uint8Array.of(0x68, 0x69, 0xe2, 0x82), 'text/plain'],
    ['a form with raw invalid UTF-8', Uint8Array.of(0x61, 0x3d, 0xc3, 0x28), 'application/x-www-form-urlencoded'],
    ['a form with %FF', 'email=a%40b.co&name=%FF', 'application/x-www-form-urlencoded'],
    ['a form with an overlong %C0%AF', 'path=%C0%AF', 'application/x-www-form-urlencoded'],
    ['a batch with an invalid UTF-8 byte', Uint8Array.of(0x5b, 0x22, 0xfe, 0x22, 0x5d), 'application/json'],
  ])('refuses %s with 400', async (_name, body, type) => {
    expect(await refusal(parsed(body, type, _name.startsWith('a batch')))).toMatchObject({ status: 400, message: expect.stringMatching(/not valid UTF-8/) });
  });

  it.each([
    ['JSON', '{"a":1e-400}', 'application/json', false],
    ['a batch', '[1, 1e-400]', 'application/json', true],
    ['JSON sent as a form', '{"a":1e-400}', 'application/x-www-form-urlencoded', false],
  ])('refuses a number that underflows to 0 in %s, instead of storing 0', async (_name, body, type, batch) => {
    expect(await refusal(parsed(body, type, batch))).toMatchObject({ status: 400, message: expect.stringMatching(/would be stored as 0/) });
  });

  it('refuses multipart text fields that are not UTF-8', async () => {
    const boundary = 'xyz';
    const body = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="a"\r\n\r\n`), Buffer.of(0xff, 0xfe), Buffer.from(`\r\n--${boundary}--\r\n`)]);
    expect(await refusal(parsed(body, `multipart/form-data; boundary=${boundary}`))).toMatchObject({ status: 400, message: expect.stringMatching(/not valid UTF-8/) });
  });

  it('refuses a charset it does not read, and an unknown type before looking at the bytes', async () => {
    expect(await refusal(parsed('caf\u00e9', 'text/plain; charset=iso-8859-1'))).toMatchObject({ status: 415 });
    expect(await refusal(parsed(Uint8Array.of(0xff), 'application/octet-stream'))).toMatchObject({ status: 415 });
    expect(await parsed('caf\u00e9', 'text/plain; charset=UTF-8')).toMatchObject({ values: ['caf\u00e9'] });
  });

  it('keeps what the URL Standard keeps: plus signs, stray percent signs, repeated names', async () => {
    expect(parseUrlencoded('a=1+2&b=100%&c=%zz&d=caf%C3%A9&e&&a=3')).toEqual([['a', '1 2'], ['b', '100%'], ['c', '%zz'], ['d', 'caf\u00e9'], ['e', ''], ['a', '3']]);
    expect(await parsed('email=a%40b.co&topic=a&topic=b&_redirect=https%3A%2F%2Fx.example%2F', 'application/x-www-form-urlencoded')).toEqual({
      values: [{ email: 'a@b.co', topic: ['a', 'b'] }],
      redirect: 'https://x.example/',
      isForm: true,
    });
  });
});
