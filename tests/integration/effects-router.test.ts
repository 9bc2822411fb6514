// The `effect` tRPC router: list with filters and paging, get with attempts, retry (one, or all of a
// reducer), all scoped to the caller's team — another team's effect is NOT_FOUND.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { effectFixture, insertEffect, startEffectWorkers, startReceiver, waitForEffect, type EffectFixture } from '../helpers/effects.ts';

Object.assign(process.env, { RETRY_SCHEDULE: '0,100', ALLOW_PRIVATE_WEBHOOKS: 'true' });
await useOwnDatabase('effrouter');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');

let a: EffectFixture;
let b: EffectFixture;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let workers: Awaited<ReturnType<typeof startEffectWorkers>>;
let callerA: ReturnType<typeof createCaller>;
let callerB: ReturnType<typeof createCaller>;

async function memberOf(f: EffectFixture, role: 'owner' | 'admin' | 'member' = 'member') {
  const user = await db().user.create({ data: { email: `${role}-${f.teamSlug}@example.com`, passwordHash: 'x' } });
  await db().membership.create({ data: { teamId: f.teamId, userId: user.id, role } });
  return createCaller({ db: db(), caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress: 'test' });
}

beforeAll(async () => {
  a = await effectFixture(db(), 'alerts');
  b = await effectFixture(db(), 'alerts');
  callerA = await memberOf(a);
  callerB = await memberOf(b);
  receiver = await startReceiver(a.secret);
  workers = await startEffectWorkers();
});
afterAll(async () => {
  await workers?.close();
  await receiver?.close();
});

describe('effect router', () => {
  it('lists the team’s effects newest first, filtered and paged', async () => {
    const other = await db().reducer.create({ data: { streamId: a.streamId, name: 'digest', code: '(s) => s' } });
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await insertEffect(db(), a, 'timer', { dueAt: new Date(Date.now() + 3_600_000).toISOString(), event: i }, { enqueue: false }));
    const digest = await insertEffect(db(), { ...a, reducerId: other.id }, 'email', { to: 'x@example.com', subject: 's' }, { enqueue: false, status: 'suppressed' });
    await insertEffect(db(), b, 'timer', { dueAt: new Date().toISOString(), event: 'b' }, { enqueue: false });

    const all = await callerA.effect.list({ team: a.teamSlug });
    expect(all.items.map((e) => e.id)).toEqual([digest, ...ids.reverse()]);
    expect(all.items[0]).toMatchObject({ stream: a.streamSlug, reducer: 'digest', kind: 'email', status: 'suppressed' });
    expect(all.nextCursor).toBeNull();

    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await callerA.effect.list({ team: a.teamSlug, reducer: 'alerts', limit: 2, cursor });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(ids);

    expect((await callerA.effect.list({ team: a.teamSlug, status: 'suppressed' })).items.map((e) => e.id)).toEqual([digest]);
    expect((await callerA.effect.list({ team: a.teamSlug, stream: a.streamSlug, kind: 'timer' })).items).toHaveLength(5);
    expect((await callerA.effect.list({ team: a.teamSlug, stream: 'nope' })).items).toEqual([]);
    expect((await callerB.effect.list({ team: b.teamSlug })).items).toHaveLength(1);
  });

  it('re-delivers a failed effect by hand, and shows every attempt', async () => {
    let calls = 0;
    receiver.on('/hand', (_r, res) => (++calls === 1 ? res.writeHead(410).end('gone for now') : res.writeHead(200).end('welcome back')));
    const id = await insertEffect(db(), a, 'webhook', { url: `${receiver.url}/hand`, body: { x: 1 } });
    await waitForEffect(db(), id);
    const failed = await callerA.effect.get({ team: a.teamSlug, id });
    expect(failed).toMatchObject({ status: 'failed', attempts: 1, reducer: 'alerts', stream: a.streamSlug });
    expect(failed.attemptLog).toHaveLength(1);

    expect(await callerA.effect.retry({ team: a.teamSlug, id })).toEqual({ retried: [id] });
    const delivered = await waitForEffect(db(), id);
    expect(delivered.status).toBe('delivered');
    const shown = await callerA.effect.get({ team: a.teamSlug, id });
    expect(shown.attemptLog.map((x) => [x.statusCode, x.responseExcerpt])).toEqual([
      [410, 'gone for now'],
      [200, 'welcome back'],
    ]);
    expect(receiver.at('/hand').map((r) => [r.headers['webhook-id'], r.verified])).toEqual([
      [id, true],
      [id, true],
    ]);
    await expect(callerA.effect.retry({ team: a.teamSlug, id })).rejects.toMatchObject({ code: 'CONFLICT' });
  });

  it('retries every failed effect of a reducer', async () => {
    receiver.on('/bulk', (_r, res) => res.writeHead(200).end());
    const failed = [];
    for (let i = 0; i < 3; i++) failed.push(await insertEffect(db(), a, 'webhook', { url: `${receiver.url}/bulk`, body: i }, { enqueue: false, status: 'failed' }));
    const bFailed = await insertEffect(db(), b, 'webhook', { url: `${receiver.url}/bulk`, body: 'b' }, { enqueue: false, status: 'failed' });
    const result = await callerA.effect.retry({ team: a.teamSlug, stream: a.streamSlug, reducer: 'alerts' });
    expect(result.retried.sort()).toEqual([...failed].sort());
    for (const id of failed) expect((await waitForEffect(db(), id)).status).toBe('delivered');
    expect((await db().effect.findFirstOrThrow({ where: { id: bFailed } })).status).toBe('failed');
    await expect(callerA.effect.retry({ team: a.teamSlug, stream: a.streamSlug, reducer: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it("answers NOT_FOUND for another team's effect, and for teams the caller is not in", async () => {
    const theirs = await insertEffect(db(), b, 'webhook', { url: `${receiver.url}/theirs` }, { enqueue: false, status: 'failed' });
    await expect(callerA.effect.get({ team: a.teamSlug, id: theirs })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callerA.effect.retry({ team: a.teamSlug, id: theirs })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callerA.effect.get({ team: b.teamSlug, id: theirs })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callerA.effect.list({ team: b.teamSlug })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callerA.effect.emails({ team: b.teamSlug })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(callerA.effect.retry({ team: a.teamSlug, stream: b.streamSlug, reducer: 'alerts' })).resolves.toEqual({ retried: [] }); // same slug, own team's stream
    expect((await db().effect.findFirstOrThrow({ where: { id: theirs } })).status).toBe('failed');
    expect(receiver.at('/theirs')).toHaveLength(0);
    const anonymous = createCaller({ db: db(), caller: { kind: 'anonymous' }, clientAddress: 'test' });
    await expect(anonymous.effect.list({ team: a.teamSlug })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
  });
});
