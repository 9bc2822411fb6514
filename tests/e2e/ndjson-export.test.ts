// GET /s/{team}/{stream} with `Accept: application/x-ndjson`: a stream of 10⁶ events (written with
// one INSERT … generate_series, for speed) is exported whole, every line in order, while the web
// process's memory stays flat — the answer is written a chunk at a time as the client reads it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { makeStream, makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer } from '../helpers/http.ts';

const EVENTS = 1_000_000;
const PAD = 'x'.repeat(200);
/** Far below the ~300 MB the export sends: the whole answer never sits in memory. */
const RSS_GROWTH_BOUND_MB = 120;

const own = await useOwnDatabase('ndjson');
const { db } = await import('../../src/lib/server/db/client.ts');

let web: Running;
let team: TeamFixture;
let key: string;

beforeAll(async () => {
  web = await startWeb(own.env);
  team = await makeTeam(db());
  key = await team.key(['read']);
  const stream = await makeStream(db(), { teamId: team.id, slug: 'big', name: 'big' });
  await db().$executeRawUnsafe(
    `INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
     SELECT $1::uuid, g, jsonb_build_object('n', g, 'pad', $2::text), timestamptz '2025-01-01' + g * interval '1 ms'
     FROM generate_series(0, ${EVENTS - 1}) g`,
    stream.id,
    PAD,
  );
  await db().stream.update({ where: { id: stream.id }, data: { length: EVENTS } });
}, 300_000);
afterAll(async () => {
  await web?.stop();
});

const url = (query = '') => `${web.url}/s/${team.slug}/big${query}`;
const ndjson = { accept: 'application/x-ndjson' };

function rssMb(): number {
  const status = readFileSync(`/proc/${web.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Reads an NDJSON answer line by line, checking each against `check`; the count and bytes. */
async function readLines(res: Response, check: (line: { index: number; receivedAt: string; body: { n: number; pad: string } }, i: number) => void): Promise<{ lines: number; bytes: number }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let rest = '';
  let lines = 0;
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    const text = rest + decoder.decode(value, { stream: true });
    const parts = text.split('\n');
    rest = parts.pop()!;
    for (const part of parts) check(JSON.parse(part), lines++);
  }
  expect(rest).toBe('');
  return { lines, bytes };
}

describe('NDJSON export', () => {
  it('streams 10⁶ events in order with their indices and receive times, in constant memory', { timeout: 300_000 }, async () => {
    // Warm the path, then measure from a settled process.
    await (await fetch(url('?start=0&end=1000'), { headers: { ...bearer(key), ...ndjson } })).arrayBuffer();
    const before = rssMb();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 100);
    const res = await fetch(url(), { headers: { ...bearer(key), ...ndjson } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    expect(res.headers.get('pipet-length')).toBe(String(EVENTS));
    expect(res.headers.get('link')).toBeNull();
    const { lines, bytes } = await readLines(res, (line, i) => {
      if (line.index !== i || line.body.n !== i) throw new Error(`line ${i} is ${JSON.stringify(line).slice(0, 100)}`);
      if (i % 99_999 === 0) expect(line).toEqual({ index: i, receivedAt: new Date(Date.parse('2025-01-01T00:00:00Z') + i).toISOString(), body: { n: i, pad: PAD } });
    });
    clearInterval(sampler);
    expect(lines).toBe(EVENTS);
    console.log(`NDJSON export: ${EVENTS} events, ${Math.round(bytes / 1024 / 1024)} MiB; web RSS ${Math.round(before)} → peak ${Math.round(peak)} MiB`);
    expect(bytes).toBeGreaterThan(250 * 1024 * 1024);
    expect(peak - before).toBeLessThan(RSS_GROWTH_BOUND_MB);
  });

  it('answers slice(start, end) ranges (negatives from the end), and an empty range with no line', async () => {
    const indices = async (query: string) => {
      const res = await fetch(url(query), { headers: { ...bearer(key), ...ndjson } });
      expect(res.status).toBe(200);
      const text = await res.text();
      return text === '' ? [] : text.trimEnd().split('\n').map((l) => JSON.parse(l).index as number);
    };
    expect(await indices('?start=999997')).toEqual([999997, 999998, 999999]);
    expect(await indices('?start=-2')).toEqual([999998, 999999]);
    expect(await indices('?start=10&end=13')).toEqual([10, 11, 12]);
    expect(await indices('?start=5&end=5')).toEqual([]);
    // Without the NDJSON Accept, the same URL is still a page of JSON.
    const page = await fetch(url('?start=10&end=13'), { headers: bearer(key) });
    expect(await page.json()).toEqual([10, 11, 12].map((n) => ({ n, pad: PAD })));
    expect((await fetch(url('?start=x'), { headers: { ...bearer(key), ...ndjson } })).status).toBe(400);
  });
});
