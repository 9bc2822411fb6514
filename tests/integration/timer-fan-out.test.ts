// Issue 23: a timer's event counts against its team's append rate like any append. One event fanning
// out into 100 timers due at once, in a team limited to 20 appends a minute, gets 20 of them
// appended within the minute; the rest wait (uncounted, never failed) and are all appended later,
// each exactly once.
import { afterAll, expect, it } from 'vitest';
import { makeStream, makeTeam, useOwnDatabase } from '../helpers/context.ts';
import { startWorkerProcess, type Running } from '../helpers/server.ts';

const ctx = await useOwnDatabase('fanout');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

let worker: Running | undefined;
afterAll(() => worker?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const FAN_OUT = `(s, e) => {
  if (e.fan) for (let i = 0; i < e.fan; i++) schedule(0, { tick: i });
  return e.tick === undefined ? s : s + 1;
}`;

it('throttles a fan-out of timers by the team rate limit, losing none', async () => {
  const team = await makeTeam(db());
  await db().team.update({ where: { id: team.id }, data: { rateLimitPerMinute: 20 } });
  const stream = await makeStream(db(), { teamId: team.id, slug: 'fan', name: 'fan' });
  await upsertReducer({ streamId: stream.id, name: 'ticks', code: FAN_OUT, initialState: 0 });
  worker = startWorkerProcess({ ...ctx.env, SWEEP_INTERVAL_MS: '300' });
  await appendEvents({ streamId: stream.id, bodies: [{ fan: 100 }] });

  const ticks = async () => (await db().event.findMany({ where: { streamId: stream.id, index: { gt: 0 } }, select: { body: true } })).map((e) => (e.body as { tick: number }).tick);
  const timers = () => db().effect.findMany({ where: { streamId: stream.id, kind: 'timer' } });
  const deadline = Date.now() + 20_000;
  while ((await timers()).filter((t) => t.status !== 'pending' || t.lastError).length < 100 && Date.now() < deadline) await sleep(200);

  // Within the minute: the team's 20 appends, and every other timer waiting for the rate, not failed.
  const within = await ticks();
  expect(within.length, worker.output()).toBeGreaterThan(0);
  expect(within.length).toBeLessThanOrEqual(20);
  const all = await timers();
  expect(all).toHaveLength(100);
  const waiting = all.filter((t) => t.status === 'pending');
  expect(waiting.length).toBe(100 - within.length);
  expect(all.filter((t) => t.status === 'failed')).toEqual([]);
  for (const t of waiting) {
    expect(t.lastError).toMatch(/Waiting for the team's append rate/);
    expect(t.attempts).toBe(0);
    expect(t.nextAttemptAt.getTime()).toBeGreaterThan(Date.now());
  }

  // Later (a higher limit, once the wait is over): every one of the 100 is appended, exactly once.
  await db().team.update({ where: { id: team.id }, data: { rateLimitPerMinute: 1_000 } });
  const later = Date.now() + 75_000;
  while ((await ticks()).length < 100 && Date.now() < later) await sleep(500);
  const appended = await ticks();
  expect(appended.toSorted((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
  expect((await timers()).every((t) => t.status === 'delivered')).toBe(true);
}, 120_000);
