// Expensive interactive work among strangers, over real HTTP: a client that abandons a heavy `?at=`
// frees the web's sandbox pool (another team's dry run right after is as quick as before, and the
// process stops burning CPU), and a third concurrent `?at=` from one team is refused while another
// team is served. (The CPU budget per call: tests/integration/time-travel.test.ts.)
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, makeStream, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';

const own = await useOwnDatabase('interactive');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

// About 30-40 ms of CPU per event in QuickJS: an ?at= over 3,000 of them from event 0 is ~100 s.
const HEAVY = '(s, e) => { let x = 0; for (let i = 0; i < 500000; i++) x += i % 7; return s + 1 }';

let web: Running;
let abusers: TeamFixture[];
let victim: TeamFixture;

/** A stream of `n` events whose reducer "folded them long ago" and kept no snapshot: time travel folds from event 0. */
async function farReducer(team: TeamFixture, slug: string, code: string, n: number) {
  const s = await makeStream(db(), { teamId: team.id, slug, name: slug });
  await appendEvents({ streamId: s.id, bodies: Array.from({ length: n }, (_, v) => ({ v })) });
  const { reducer } = await upsertReducer({ streamId: s.id, name: 'r', code, initialState: 0 });
  await db().reducerState.update({ where: { streamId_reducerId: { streamId: s.id, reducerId: reducer.id } }, data: { cursor: n } });
}

beforeAll(async () => {
  web = await startWeb({
    ...own.env,
    // The budget out of the way: what ends an abandoned call here is its client leaving.
    INTERACTIVE_CPU_MS: '300000',
    SANDBOX_CPU_MS_PER_EVENT: '2000',
    KEY_RATE_LIMIT_PER_MINUTE: '1000000',
    ACCOUNT_RATE_LIMIT_PER_MINUTE: '1000000',
    DRY_RUN_RATE_LIMIT_PER_MINUTE: '100000',
  });
  abusers = [await makeTeam(db()), await makeTeam(db())];
  victim = await makeTeam(db());
  for (const team of abusers) await farReducer(team, 'far', HEAVY, 3000);
  await farReducer(victim, 'light', '(n) => n + 1', 20);
  await farReducer(victim, 'work', '(n) => n + 1', 10);
}, 120_000);
afterAll(async () => {
  await web?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The web process's CPU time so far, ms (utime + stime of /proc/<pid>/stat, in clock ticks of 10 ms). */
function webCpuMs(): number {
  const fields = readFileSync(`/proc/${web.child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Starts a GET …/state/r?at=i that the caller can abandon; resolves with its status (0 once aborted). */
function travel(team: TeamFixture, key: string, stream: string, at: number) {
  const controller = new AbortController();
  const answer = fetch(`${web.url}/s/${team.slug}/${stream}/state/r?at=${at}`, { headers: bearer(key), signal: controller.signal }).then(
    async (res) => ({ status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() }),
    () => ({ status: 0, retryAfter: null, body: '' }),
  );
  return { answer, abort: () => controller.abort() };
}

describe('expensive interactive calls', () => {
  it('stop when their client goes away: the pool is free for another team’s dry run at once, and the process stops burning CPU', { timeout: 120_000 }, async () => {
    const keys = await Promise.all(abusers.map((t) => t.key(['read'])));
    const victimManage = await victim.key(['manage']);
    const dryRun = async () => {
      const t = performance.now();
      const res = await postJson(`${web.url}/api/trpc/reducer.dryRun`, { json: { team: victim.slug, stream: 'work', code: HEAVY, initialState: 0, last: 10 } }, bearer(victimManage));
      expect(res.status).toBe(200);
      const { result } = (await res.json()) as { result: { data: { json: { steps: unknown[]; error: unknown } } } };
      expect(result.data.json.steps).toHaveLength(10);
      expect(result.data.json.error).toBeNull();
      return performance.now() - t;
    };
    await dryRun(); // warm up
    const baseline = Math.min(await dryRun(), await dryRun());

    // Two strangers each start a heavy ?at= and leave after a second.
    const calls = abusers.map((team, i) => travel(team, keys[i], 'far', 2999));
    await sleep(1_000);
    for (const c of calls) c.abort();
    await sleep(500); // the slices already running end (SANDBOX_SLICE_MS each)
    const after = await dryRun();
    // Then the process idles: what it burns is what nobody asked for any more.
    await sleep(300);
    const cpuBefore = webCpuMs();
    const idleStarted = Date.now();
    await sleep(3_000);
    const cpuShare = (webCpuMs() - cpuBefore) / (Date.now() - idleStarted);
    console.log(`dry run: ${Math.round(baseline)} ms before, ${Math.round(after)} ms right after two abandoned ?at=; the web process used ${(cpuShare * 100).toFixed(0)}% of a core in the 3 s after`);
    expect((await Promise.all(calls.map((c) => c.answer))).map((a) => a.status)).toEqual([0, 0]);
    expect(after).toBeLessThan(baseline * 2);
    expect(cpuShare).toBeLessThan(0.4);
  });

  it('refuse a third concurrent ?at= from one team with a clear 429 and Retry-After, while another team is served', { timeout: 60_000 }, async () => {
    const [team] = abusers;
    const key = await team.key(['read']);
    const calls = [0, 1, 2].map(() => travel(team, key, 'far', 2999));
    const refused = await Promise.race(calls.map((c) => c.answer));
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(JSON.parse(refused.body)).toMatchObject({ error: { code: 'rate_limited', message: expect.stringMatching(/at most 2 at once/) } });

    // Another team's time travel goes through meanwhile.
    const victimKey = await victim.key(['read']);
    const res = await fetch(`${web.url}/s/${victim.slug}/light/state/r?at=9`, { headers: bearer(victimKey) });
    expect(res.status).toBe(200);
    expect(await res.json()).toBe(10);

    for (const c of calls) c.abort();
    const statuses = (await Promise.all(calls.map((c) => c.answer))).map((a) => a.status).sort();
    expect(statuses).toEqual([0, 0, 429]);
    // Once they are gone the team may travel again.
    await sleep(500);
    const again = await fetch(`${web.url}/s/${team.slug}/far/state/r?at=3`, { headers: bearer(key) });
    expect(again.status).toBe(200);
    expect(await again.json()).toBe(4);
  });
});
