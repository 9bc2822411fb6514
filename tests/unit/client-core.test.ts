// The client's pure parts: the SSE parser (split anywhere, CR/LF/CRLF, comments, multi-line data),
// the retry schedule (Retry-After first, else backoff), and how `pipet import` cuts and keys batches.
import { describe, expect, it } from 'vitest';
import { readSse } from '../../src/client/sse.ts';
import { retryDelay, DEFAULT_RETRY } from '../../src/client/retry.ts';
import { parseRetryAfter } from '../../src/client/errors.ts';
import { BatchCutter, parseImportLine } from '../../src/cli/import-batches.ts';

function body(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({ start(c) { for (const chunk of chunks) c.enqueue(encoder.encode(chunk)); c.close(); } });
}

async function messages(chunks: string[]) {
  const out = [];
  const retries: number[] = [];
  for await (const m of readSse(body(chunks), (ms) => retries.push(ms))) out.push(m);
  return { out, retries };
}

describe('readSse', () => {
  const stream = 'retry: 2000\n: tailing from 0\n\nid: 0\ndata: {"index":0}\n\n: heartbeat\n\nid: 1\r\ndata: a\r\ndata: b\r\n\r\nevent: end\rdata: {"reason":"unauthorized"}\r\r';
  it.each([
    ['whole', [stream]],
    ['one character at a time', [...stream]],
    ['split inside CRLF', [stream.slice(0, stream.indexOf('\r\n') + 1), stream.slice(stream.indexOf('\r\n') + 1)]],
  ])('parses a stream delivered %s', async (_, chunks) => {
    const { out, retries } = await messages(chunks);
    expect(out).toEqual([
      { id: '0', event: 'message', data: '{"index":0}' },
      { id: '1', event: 'message', data: 'a\nb' },
      { id: '1', event: 'end', data: '{"reason":"unauthorized"}' },
    ]);
    expect(retries).toEqual([2000]);
  });
});

describe('retryDelay', () => {
  it.each([
    [1, 3, 3000],
    [4, 0, 0],
    [1, 999, DEFAULT_RETRY.maxMs],
  ])('attempt %i with Retry-After %i s waits %i ms', (attempt, after, ms) => expect(retryDelay(attempt, after)).toBe(ms));
  it.each([
    [1, 0, 125],
    [1, 1, 250],
    [3, 1, 1000],
    [20, 1, DEFAULT_RETRY.maxMs],
  ])('attempt %i with jitter %f backs off %i ms', (attempt, random, ms) => expect(retryDelay(attempt, undefined, DEFAULT_RETRY, () => random)).toBe(ms));
  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('7')).toBe(7);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('import batches', () => {
  const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => parseImportLine(JSON.stringify({ index: from + i, receivedAt: 'x', body: { n: from + i } }), i + 1));
  function cut(input: ReturnType<typeof lines>, size = 10, maxBytes = 1 << 20) {
    const cutter = new BatchCutter({ size, maxBytes });
    const out = input.map((l) => cutter.add(l)).filter((b) => b !== null);
    const last = cutter.end();
    return last ? [...out, last] : out;
  }
  it('follows the source’s index blocks, so a rerun makes the same batches under the same keys', () => {
    const first = cut(lines(0, 25));
    expect(first.map((b) => [b.lines[0].index, b.lines.length])).toEqual([[0, 10], [10, 10], [20, 5]]);
    expect(cut(lines(0, 25)).map((b) => b.key)).toEqual(first.map((b) => b.key));
    // A file starting at a block's edge keys the later blocks as the whole file did.
    expect(cut(lines(10, 25)).map((b) => b.key)).toEqual(first.slice(1).map((b) => b.key));
    expect(new Set(first.map((b) => b.key)).size).toBe(3);
  });
  it('cuts a block early to stay under the byte bound', () => {
    expect(cut(lines(0, 10), 10, 30).map((b) => b.lines.length)).toEqual([3, 3, 3, 1]);
  });
  it('refuses a line without a body, naming it', () => {
    expect(() => parseImportLine('{"index":1}', 7)).toThrow(/Line 7 has no `body`/);
    expect(() => parseImportLine('[1]', 2)).toThrow(/Line 2/);
  });
});
