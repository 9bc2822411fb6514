// Timers: rows in PostgreSQL first, BullMQ delayed jobs second. A timer survives its worker being
// killed and Redis losing the queue, fires on recovery when it came due meanwhile, and appends its
// event exactly once however often its job runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { deleteRedisPrefix } from '../helpers/services.ts';
import { startWorkerProcess, type Running } from '../helpers/server.ts';
import { effectFixture, insertEffect, waitForEffect } from '../helpers/effects.ts';

const ctx = await useOwnDatabase('efftimer');
const { db } = await import('../../src/lib/server/db/client.ts');
const { deliverEffect } = await import('../../src/lib/server/effects/deliver-effect.ts');
const { queue } = await import('../../src/lib/server/queue/enqueue.ts');

const workerEnv = { ...ctx.env, SWEEP_INTERVAL_MS: '300', RETRY_SCHEDULE: '0,200,200' };
const running: Running[] = [];
afterAll(async () => {
  for (const w of running) await w.kill();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const eventsOf = async (streamId: string) => (await db().event.findMany({ where: { streamId }, orderBy: { index: 'asc' } })).map((e) => e.body);

describe('timer effects', () => {
  it('survive a killed worker and a wiped Redis, firing on recovery', async () => {
    const f = await effectFixture(db());
    const a = startWorkerProcess(workerEnv);
    running.push(a);
    const soon = new Date(Date.now() + 2_500);
    const later = new Date(Date.now() + 7_000);
    const missed = await insertEffect(db(), f, 'timer', { dueAt: soon.toISOString(), event: { type: 'check', user: 'ada' } }, { nextAttemptAt: soon });
    const onTime = await insertEffect(db(), f, 'timer', { dueAt: later.toISOString(), event: { type: 'check', user: 'bob' } }, { nextAttemptAt: later });
    expect((await queue('timers').getDelayedCount())).toBe(2);

    await sleep(500);
    await a.kill('SIGKILL');
    await deleteRedisPrefix(ctx.redisUrl, ctx.prefix);
    expect(await queue('timers').getDelayedCount()).toBe(0);
    // Nothing runs while `missed` comes due.
    await sleep(Math.max(0, soon.getTime() - Date.now()) + 500);
    expect(await eventsOf(f.streamId)).toEqual([]);

    const b = startWorkerProcess(workerEnv);
    running.push(b);
    const fired = await waitForEffect(db(), missed, ['delivered', 'failed'], 15_000);
    expect(fired, b.output()).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(await eventsOf(f.streamId)).toEqual([{ type: 'check', user: 'ada' }]);

    const second = await waitForEffect(db(), onTime, ['delivered', 'failed'], 15_000);
    expect(second.status).toBe('delivered');
    expect(second.deliveredAt!.getTime()).toBeGreaterThanOrEqual(later.getTime() - 1_000);
    expect(await eventsOf(f.streamId)).toEqual([{ type: 'check', user: 'ada' }, { type: 'check', user: 'bob' }]);
    await b.stop();
  });

  it('append once however often the job runs', async () => {
    const f = await effectFixture(db());
    const due = new Date(Date.now() - 1_000);
    const id = await insertEffect(db(), f, 'timer', { dueAt: due.toISOString(), event: 'wake up' }, { enqueue: false, nextAttemptAt: due });
    const outcomes = await Promise.all([deliverEffect({ streamId: f.streamId, effectId: id }), deliverEffect({ streamId: f.streamId, effectId: id })]);
    expect(outcomes.map((o) => o.outcome).sort()).toEqual(['busy', 'delivered']);
    expect(await eventsOf(f.streamId)).toEqual(['wake up']);

    // A worker that appended and died before marking the row: the next run appends nothing.
    await db().effect.update({ where: { streamId_id: { streamId: f.streamId, id } }, data: { status: 'pending', nextAttemptAt: new Date() } });
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toMatchObject({ outcome: 'delivered' });
    expect(await eventsOf(f.streamId)).toEqual(['wake up']);
    const row = await waitForEffect(db(), id);
    expect(row.attemptLog.map((a) => a.responseExcerpt)).toEqual(['Appended as element 0.', 'Appended as element 0 (by an earlier run of this timer).']);
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toEqual({ outcome: 'skipped', status: 'delivered' });
  });

  it('wait for their due time even when a job arrives early', async () => {
    const f = await effectFixture(db());
    const dueAt = new Date(Date.now() + 60_000);
    // A row stored with nextAttemptAt = now (not its due time) is corrected, not fired.
    const id = await insertEffect(db(), f, 'timer', { dueAt: dueAt.toISOString(), event: 1 }, { enqueue: false });
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toEqual({ outcome: 'not_due' });
    const row = await db().effect.findFirstOrThrow({ where: { id } });
    expect(row).toMatchObject({ status: 'pending', attempts: 0 });
    expect(row.nextAttemptAt.getTime()).toBe(dueAt.getTime());
    expect(await deliverEffect({ streamId: f.streamId, effectId: id })).toEqual({ outcome: 'not_due' });
    expect(await eventsOf(f.streamId)).toEqual([]);
  });
});
