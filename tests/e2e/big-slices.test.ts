// Big slices among strangers: one team reads `GET …?limit=1000` over 250 KB events from 30
// connections at once, again and again; the web process's memory stays flat and another team's
// POSTs keep their latency (no 503). Figures printed for the README ("Among strangers").
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, makeStream, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';

const EVENTS = 200;
const EVENT_BYTES = 250_000;
const READERS = 30;
const SLICE_MAX_BYTES = 4 * 1024 * 1024;
const RSS_GROWTH_BOUND_MB = 600;

const own = await useOwnDatabase('bigslice');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');

let web: Running;
let reader: TeamFixture;
let victim: TeamFixture;

beforeAll(async () => {
  web = await startWeb({ ...own.env, KEY_RATE_LIMIT_PER_MINUTE: '1000000', ACCOUNT_RATE_LIMIT_PER_MINUTE: '1000000' });
  reader = await makeTeam(db());
  victim = await makeTeam(db());
  const s = await makeStream(db(), { teamId: reader.id, slug: 'big', name: 'big' });
  for (let i = 0; i < EVENTS; i += 10) {
    await appendEvents({ streamId: s.id, bodies: Array.from({ length: 10 }, (_, k) => ({ n: i + k, pad: 'x'.repeat(EVENT_BYTES) })) });
  }
  await makeStream(db(), { teamId: victim.id, slug: 'orders', name: 'orders' });
}, 120_000);
afterAll(async () => {
  await web?.stop();
});

/** The web process's resident memory, MiB (VmRSS of the child). */
function rssMb(): number {
  const status = readFileSync(`/proc/${web.child.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
};

/** The victim's POST latencies, one after another, until `stop()` says so (at least `min` of them). */
async function victimPosts(key: string, until: () => boolean, min: number): Promise<{ ms: number[]; statuses: number[] }> {
  const ms: number[] = [];
  const statuses: number[] = [];
  for (let i = 0; i < min || !until(); i++) {
    const t = performance.now();
    const res = await postJson(`${web.url}/s/${victim.slug}/orders`, { order: i }, bearer(key));
    await res.arrayBuffer();
    ms.push(performance.now() - t);
    statuses.push(res.status);
  }
  return { ms, statuses };
}

describe('big slices', () => {
  it('stop at SLICE_MAX_BYTES with Link: rel="next", and the pages together are the whole stream in order', async () => {
    const key = await reader.key(['read']);
    let next: string | null = `/s/${reader.slug}/big?limit=1000`;
    const seen: number[] = [];
    let pages = 0;
    while (next) {
      const res: Response = await fetch(`${web.url}${next}`, { headers: bearer(key) });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SLICE_MAX_BYTES);
      const page = JSON.parse(text) as { n: number }[];
      expect(page.length).toBeGreaterThan(0);
      seen.push(...page.map((e) => e.n));
      next = /<([^>]+)>; rel="next"/.exec(res.headers.get('link') ?? '')?.[1] ?? null;
      if (next) expect(next).toContain('limit=1000');
      pages++;
    }
    expect(seen).toEqual(Array.from({ length: EVENTS }, (_, i) => i));
    expect(pages).toBeGreaterThanOrEqual(Math.ceil((EVENTS * EVENT_BYTES) / SLICE_MAX_BYTES));
  });

  it('keep the web process’s memory flat and another team’s POSTs fast under 30 concurrent ?limit=1000 readers', { timeout: 180_000 }, async () => {
    const readKey = await reader.key(['read']);
    const victimKey = await victim.key(['ingest']);
    // Warm up both paths, then measure the idle figures.
    await fetch(`${web.url}/s/${reader.slug}/big?limit=1000`, { headers: bearer(readKey) }).then((r) => r.arrayBuffer());
    const idle = await victimPosts(victimKey, () => true, 30);
    const rssBefore = rssMb();

    let stop = false;
    let slices = 0;
    let bytes = 0;
    const readerStatuses = new Map<number, number>();
    const readers = Array.from({ length: READERS }, async () => {
      while (!stop) {
        const res = await fetch(`${web.url}/s/${reader.slug}/big?limit=1000`, { headers: bearer(readKey) });
        const body = await res.arrayBuffer();
        bytes += body.byteLength;
        readerStatuses.set(res.status, (readerStatuses.get(res.status) ?? 0) + 1);
        slices++;
      }
    });
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMb())), 100);
    const attackMs = 15_000;
    const started = Date.now();
    const attacked = await victimPosts(victimKey, () => Date.now() - started > attackMs, 30);
    stop = true;
    await Promise.all(readers);
    clearInterval(sampler);
    const rssAfter = rssMb();

    const figures = {
      readers: READERS,
      slices_answered: slices,
      mib_sent: Math.round(bytes / 1024 / 1024),
      reader_statuses: Object.fromEntries(readerStatuses),
      rss_before_mib: Math.round(rssBefore),
      rss_peak_mib: Math.round(rssPeak),
      rss_after_mib: Math.round(rssAfter),
      victim_post_idle_p50_ms: pct(idle.ms, 50),
      victim_post_idle_p99_ms: pct(idle.ms, 99),
      victim_post_attack_p50_ms: pct(attacked.ms, 50),
      victim_post_attack_p99_ms: pct(attacked.ms, 99),
      victim_posts_during_attack: attacked.ms.length,
    };
    console.log('big slices', JSON.stringify(figures, null, 2));

    expect(attacked.statuses.filter((s) => s !== 201)).toEqual([]);
    expect([...readerStatuses.keys()]).toEqual([200]);
    expect(slices).toBeGreaterThan(READERS);
    expect(rssPeak - rssBefore).toBeLessThan(RSS_GROWTH_BOUND_MB);
  });
});
