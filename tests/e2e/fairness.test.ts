// Fairness among strangers, with real processes: one team runs heavy reducers with a backlog, a
// builtin-bomb reducer, dry runs in a loop and a flood of webhooks to a socket that never answers;
// another team's POST → state and email delivery stay within a small bound all the while. The
// figures are printed; the bounds are relative to the hostile team's own backlog and to the
// webhook timeout, so a slow machine slows both sides alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { makeTeam, useOwnDatabase, type TeamFixture, makeStream } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';

const WEBHOOK_TIMEOUT_MS = 5_000;
const own = await useOwnDatabase('fair');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

let web: Running;
let worker: Running;
let hostile: TeamFixture;
let victim: TeamFixture;
let blackHole: net.Server;
let holePort = 0;
const held = new Set<net.Socket>();

beforeAll(async () => {
  // A socket that accepts and never answers: every webhook to it takes the whole timeout.
  blackHole = net.createServer((s) => {
    held.add(s);
    s.on('error', () => {});
    s.on('close', () => held.delete(s));
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  holePort = (blackHole.address() as net.AddressInfo).port;
  const env = {
    ...own.env,
    ALLOW_PRIVATE_WEBHOOKS: 'true',
    WEBHOOK_TIMEOUT_MS: String(WEBHOOK_TIMEOUT_MS),
    SANDBOX_CPU_MS_PER_EVENT: '200',
    SWEEP_INTERVAL_MS: '1000',
    KEY_RATE_LIMIT_PER_MINUTE: '100000',
    DRY_RUN_RATE_LIMIT_PER_MINUTE: '100000',
  };
  web = await startWeb(env);
  worker = startWorkerProcess(env);
  hostile = await makeTeam(db());
  victim = await makeTeam(db());
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
  for (const s of held) s.destroy();
  await new Promise<void>((r) => blackHole?.close(() => r()));
});

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// About 30 ms of CPU per event in QuickJS: legal, but a backlog of them keeps a thread busy.
const HEAVY = '(s, e) => { let x = 0; for (let i = 0; i < 400000; i++) x += i % 7; return s + 1 }';
// One builtin call over ~200 million characters: the CPU interrupt never sees it.
const BOMB = "(s, e) => { const hay = 'a'.repeat(400000); hay.indexOf('a'.repeat(1000) + 'b'); return s + 1 }";

describe('one team cannot slow another', () => {
  it('keeps the other team’s POST → state and email delivery fast while a hostile team floods the machine', { timeout: 180_000 }, async () => {
    const hostileKey = await hostile.key(['ingest', 'read']);
    const hostileManage = await hostile.key(['manage']);
    const started = Date.now();

    // The hostile team: heavy reducers with a backlog on three streams, a builtin bomb, and webhooks into a black hole.
    const heavyStreams = ['heavy-0', 'heavy-1', 'heavy-2'];
    for (const slug of heavyStreams) {
      const s = await makeStream(db(), { teamId: hostile.id, slug, name: slug });
      await upsertReducer({ streamId: s.id, name: 'heavy', code: HEAVY, initialState: 0 });
      await postJson(`${web.url}/s/${hostile.slug}/${slug}/batch`, Array.from({ length: 80 }, (_, i) => ({ i })), bearer(hostileKey));
    }
    const bombStream = await makeStream(db(), { teamId: hostile.id, slug: 'bomb', name: 'bomb' });
    await upsertReducer({ streamId: bombStream.id, name: 'bomb', code: BOMB, initialState: 0 });
    await postJson(`${web.url}/s/${hostile.slug}/bomb/batch`, Array.from({ length: 20 }, (_, i) => ({ i })), bearer(hostileKey));
    const floodStream = await makeStream(db(), { teamId: hostile.id, slug: 'flood', name: 'flood' });
    await upsertReducer({ streamId: floodStream.id, name: 'flood', code: `(s, e) => { request('http://127.0.0.1:${holePort}/hook', { body: e }); return s + 1 }`, initialState: 0 });
    await postJson(`${web.url}/s/${hostile.slug}/flood/batch`, Array.from({ length: 40 }, (_, i) => ({ i })), bearer(hostileKey));
    // Dry runs of heavy code in a loop, through the web's own sandbox pool.
    let dryRuns = 0;
    let stopDry = false;
    const dryLoop = (async () => {
      while (!stopDry) {
        await postJson(`${web.url}/api/trpc/reducer.dryRun`, { json: { team: hostile.slug, stream: 'heavy-0', code: HEAVY, initialState: 0, last: 20 } }, bearer(hostileManage)).catch(() => null);
        dryRuns++;
      }
    })();

    // The victim team, meanwhile: a counter that emails each event (kept in the outbox: no SMTP).
    const victimKey = await victim.key(['ingest', 'read']);
    const victimManage = await victim.key(['manage']);
    const v = await makeStream(db(), { teamId: victim.id, slug: 'orders', name: 'orders' });
    await upsertReducer({ streamId: v.id, name: 'count', code: "(n, e) => { email({ to: 'ops@example.com', subject: 'order ' + n }); return n + 1 }", initialState: 0 });
    await sleep(1_000); // let the hostile load get going
    const stateMs: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t = performance.now();
      const { index } = await (await postJson(`${web.url}/s/${victim.slug}/orders`, { order: i }, bearer(victimKey))).json();
      const res = await fetch(`${web.url}/s/${victim.slug}/orders/state/count?after=${index}`, { headers: bearer(victimKey) });
      expect(res.status).toBe(200);
      stateMs.push(performance.now() - t);
    }
    // Saving a reducer (a compile check in the web's sandbox pool) while the dry runs go on.
    const t = performance.now();
    const saved = await postJson(`${web.url}/api/trpc/reducer.upsert`, { json: { team: victim.slug, stream: 'orders', name: 'other', code: '(n) => n + 1', initialState: 0 } }, bearer(victimManage));
    const upsertMs = performance.now() - t;
    expect(saved.status).toBe(200);

    // The victim's emails: from the row's creation to its delivery.
    const deadline = Date.now() + 60_000;
    let emails: { createdAt: Date; deliveredAt: Date | null; status: string }[] = [];
    for (;;) {
      emails = await db().effect.findMany({ where: { teamId: victim.id, kind: 'email' }, select: { createdAt: true, deliveredAt: true, status: true } });
      if (emails.length === 20 && emails.every((e) => e.status === 'delivered')) break;
      if (Date.now() > deadline) throw new Error(`victim emails: ${emails.filter((e) => e.status === 'delivered').length} of ${emails.length} delivered\n${worker.output().slice(-2000)}`);
      await sleep(100);
    }
    const emailMs = emails.map((e) => e.deliveredAt!.getTime() - e.createdAt.getTime());

    // How long the hostile team's own backlog takes (its heavy streams caught up).
    for (;;) {
      const behind = await db().reducerState.count({ where: { reducer: { name: 'heavy', stream: { teamId: hostile.id } }, cursor: { lt: 80 } } });
      if (behind === 0) break;
      if (Date.now() > deadline + 60_000) throw new Error('the hostile backlog never finished');
      await sleep(200);
    }
    const hostileBacklogMs = Date.now() - started;
    stopDry = true;
    await dryLoop;
    const bomb = await db().reducerState.findFirstOrThrow({ where: { reducer: { streamId: bombStream.id } } });
    const hooks = await db().effect.groupBy({ by: ['status'], where: { streamId: floodStream.id }, _count: true });

    const figures = {
      victim_post_to_state_p50_ms: pct(stateMs, 50),
      victim_post_to_state_p99_ms: pct(stateMs, 99),
      victim_email_p50_ms: pct(emailMs, 50),
      victim_email_p99_ms: pct(emailMs, 99),
      victim_upsert_ms: Math.round(upsertMs),
      hostile_backlog_ms: hostileBacklogMs,
      hostile_dry_runs: dryRuns,
      hostile_bomb: `${bomb.status} at event ${bomb.errorIndex}`,
      hostile_webhooks: Object.fromEntries(hooks.map((h) => [h.status, h._count])),
    };
    console.log(`fairness figures: ${JSON.stringify(figures)}`);

    // The bomb stopped at its first event, with a timeout, instead of running for seconds per event.
    expect(bomb).toMatchObject({ status: 'errored', errorIndex: 0 });
    // The victim waited a small fraction of what the hostile team's own work took...
    expect(figures.victim_post_to_state_p99_ms).toBeLessThan(hostileBacklogMs / 3);
    expect(figures.victim_upsert_ms).toBeLessThan(hostileBacklogMs / 3);
    // ...and its emails never queued behind the black-holed webhooks (each of which takes the full timeout).
    expect(figures.victim_email_p99_ms).toBeLessThan(WEBHOOK_TIMEOUT_MS);
  });
});
