// The one append path under concurrency: dense unique indices, contiguous batches, no partial batch.
import { beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam, makeStream } from '../helpers/context.ts';

await useOwnDatabase('append');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');
const { db } = await import('../../src/lib/server/db/client.ts');

let streamId: string;
beforeAll(async () => {
  const team = await makeTeam(db());
  streamId = (await makeStream(db(), { teamId: team.id, slug: 'race', name: 'race' })).id;
});

describe('appendEvents', () => {
  it('gives concurrent writers dense, unique indices and keeps batches contiguous', async () => {
    const writers = 12;
    const perWriter = 20;
    const results = await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        const mine: { first: number; count: number; tag: string }[] = [];
        for (let i = 0; i < perWriter; i++) {
          const batch = i % 5 === 0;
          const bodies = batch ? [0, 1, 2].map((k) => ({ w, i, k })) : [{ w, i, k: 0 }];
          const r = await appendEvents({ streamId, bodies });
          mine.push({ first: r.first, count: r.count, tag: `${w}:${i}` });
        }
        return mine;
      }),
    );
    const all = results.flat();
    const total = all.reduce((n, r) => n + r.count, 0);
    const stream = await db().stream.findUniqueOrThrow({ where: { id: streamId } });
    expect(stream.length).toBe(total);
    const events = await readEvents({ streamId, start: 0, end: total });
    expect(events.map((e) => e.index)).toEqual(Array.from({ length: total }, (_, i) => i));
    for (const r of all) {
      const [w, i] = r.tag.split(':').map(Number);
      const slice = events.slice(r.first, r.first + r.count).map((e) => JSON.parse(e.bodyJson));
      expect(slice).toEqual(Array.from({ length: r.count }, (_, k) => ({ w, i, k })));
    }
  });

  it('appends nothing when any element of a batch is refused', async () => {
    const before = (await db().stream.findUniqueOrThrow({ where: { id: streamId } })).length;
    await expect(appendEvents({ streamId, bodies: [1, 2, 'x'.repeat(300 * 1024)] })).rejects.toMatchObject({ code: 'payload_too_large' });
    await expect(appendEvents({ streamId, bodies: [1, () => 0] })).rejects.toMatchObject({ code: 'bad_request' });
    await expect(appendEvents({ streamId: '00000000-0000-0000-0000-000000000000', bodies: [1] })).rejects.toMatchObject({ code: 'not_found' });
    expect((await db().stream.findUniqueOrThrow({ where: { id: streamId } })).length).toBe(before);
  });

  it('wakes the fold queue once per stream, however many appends land', async () => {
    const { queue } = await import('../../src/lib/server/queue/enqueue.ts');
    const other = await makeStream(db(), { teamId: (await db().stream.findUniqueOrThrow({ where: { id: streamId } })).teamId, slug: 'wake', name: 'wake' });
    await Promise.all(Array.from({ length: 10 }, (_, i) => appendEvents({ streamId: other.id, bodies: [i] })));
    // Wake-ups are sent after the appends answer (never awaited by them): give them a moment.
    const waitingFor = async () => (await queue('fold').getJobs(['waiting', 'prioritized'])).filter((j) => j.data.streamId === other.id);
    for (let i = 0; i < 50 && (await waitingFor()).length === 0; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 100));
    expect(await waitingFor()).toHaveLength(1);
  });
});

const stored = async () => (await db().stream.findUniqueOrThrow({ where: { id: streamId } })).length;

describe('idempotency keys', () => {

  it('belong to their sender: the same key from two senders appends twice', async () => {
    const before = await stored();
    const owner = await appendEvents({ streamId, bodies: [{ order: 17 }], idempotency: { key: 'order-17', scope: 'key:owner' } });
    const stranger = await appendEvents({ streamId, bodies: [{ order: 17 }], idempotency: { key: 'order-17', scope: 'anon:203.0.113.9' } });
    expect([owner.replayed, stranger.replayed]).toEqual([false, false]);
    expect(await stored()).toBe(before + 2);
    const again = await appendEvents({ streamId, bodies: [{ order: 17 }], idempotency: { key: 'order-17', scope: 'key:owner' } });
    expect(again).toMatchObject({ replayed: true, first: owner.first });
    expect(await stored()).toBe(before + 2);
  });

  it('refuse a reuse with another body (422), storing nothing', async () => {
    await appendEvents({ streamId, bodies: [{ amount: 10 }], idempotency: { key: 'pay-1', scope: 'key:owner' } });
    const before = await stored();
    await expect(appendEvents({ streamId, bodies: [{ amount: 1000 }], idempotency: { key: 'pay-1', scope: 'key:owner' } })).rejects.toMatchObject({ code: 'idempotency_mismatch', status: 422 });
    expect(await stored()).toBe(before);
  });

  it("keep Pipet's timers in their own space: a sender cannot pre-empt a timer by its effect id", async () => {
    const effectId = 'eff_0123456789abcdef0123456789abcdef';
    await appendEvents({ streamId, bodies: ['squatted'], idempotency: { key: effectId, scope: 'key:attacker' } });
    const fired = await appendEvents({ streamId, bodies: ['timer fired'], idempotency: { key: effectId, scope: 'timer' } });
    expect(fired.replayed).toBe(false);
  });
});

describe('per-body keys (Segment messageIds)', () => {
  const bodiesFrom = async (first: number, count: number) => (await readEvents({ streamId, start: first, end: first + count })).map((e) => JSON.parse(e.bodyJson));

  it('append only the bodies whose key is new — repeats in the call included — all in one statement', async () => {
    const scope = 'segment:key-a';
    const one = await appendEvents({ streamId, bodies: ['a', 'b'], idempotency: { keys: ['m-a', 'm-b'], scope } });
    expect(one).toMatchObject({ count: 2, duplicates: 0, replayed: false });
    const two = await appendEvents({ streamId, bodies: ['b again', 'c', 'c again', 'd'], idempotency: { keys: ['m-b', 'm-c', 'm-c', 'm-d'], scope } });
    expect(two).toMatchObject({ first: one.first + 2, count: 2, duplicates: 2, replayed: false });
    expect(await bodiesFrom(two.first, 2)).toEqual(['c', 'd']);
    const three = await appendEvents({ streamId, bodies: ['a', 'd'], idempotency: { keys: ['m-a', 'm-d'], scope } });
    expect(three).toMatchObject({ count: 0, duplicates: 2, replayed: true, length: two.length });
    // Another scope has keys of its own.
    expect((await appendEvents({ streamId, bodies: ['a'], idempotency: { keys: ['m-a'], scope: 'segment:key-b' } })).count).toBe(1);
  });

  it('forget a key after 24 hours', async () => {
    const scope = 'segment:key-old';
    await appendEvents({ streamId, bodies: ['first'], idempotency: { keys: ['m-old'], scope } });
    await db().idempotencyRecord.updateMany({ where: { streamId, scope }, data: { createdAt: new Date(Date.now() - 25 * 3600_000) } });
    const again = await appendEvents({ streamId, bodies: ['second'], idempotency: { keys: ['m-old'], scope } });
    expect(again.count).toBe(1);
    expect(await bodiesFrom(again.first, 1)).toEqual(['second']);
  });

  it('store each key once when overlapping calls race', async () => {
    const scope = 'segment:racer';
    const before = await stored();
    const keys = Array.from({ length: 30 }, (_, i) => `r-${i}`);
    await Promise.all(Array.from({ length: 8 }, (_, w) => {
      const mine = keys.slice(w * 3, w * 3 + 9);
      return appendEvents({ streamId, bodies: mine.map((k) => ({ k })), idempotency: { keys: mine, scope } });
    }));
    const events = await bodiesFrom(before, (await stored()) - before);
    expect(events.map((e) => e.k).sort()).toEqual(keys.slice(0, 30).sort());
  });
});

describe('group commit', () => {
  it('coalesces concurrent appends to one stream: dense, in order, each answered with its own indices', async () => {
    const { databaseUrl } = { databaseUrl: process.env.DATABASE_URL! };
    const pg = (await import('pg')).default;
    const probe = new pg.Client({ connectionString: databaseUrl });
    await probe.connect();
    try {
      const teamId = (await db().stream.findUniqueOrThrow({ where: { id: streamId } })).teamId;
      const hot = await makeStream(db(), { teamId, slug: 'hot', name: 'hot' });
      const commits = async () => {
        await probe.query('SELECT pg_stat_force_next_flush()');
        return (await probe.query('SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()')).rows[0].n as number;
      };
      const before = await commits();
      const requests = Array.from({ length: 200 }, (_, r) => (r % 10 === 0 ? [{ r, k: 0 }, { r, k: 1 }, { r, k: 2 }] : [{ r, k: 0 }]));
      const results = await Promise.all(requests.map((bodies) => appendEvents({ streamId: hot.id, bodies })));
      const statements = (await commits()) - before;
      console.log(`200 concurrent appends to one stream took ${statements} commits`);
      expect(statements).toBeLessThan(100);
      const total = requests.reduce((n, b) => n + b.length, 0);
      const events = await readEvents({ streamId: hot.id, start: 0, end: total });
      expect(events.map((e) => e.index)).toEqual(Array.from({ length: total }, (_, i) => i));
      results.forEach((res, r) => {
        expect(res.count).toBe(requests[r].length);
        expect(res.length).toBe(res.first + res.count);
        expect(events.slice(res.first, res.first + res.count).map((e) => JSON.parse(e.bodyJson))).toEqual(requests[r]);
      });
    } finally {
      await probe.end();
    }
  });

  it('acknowledges nothing before its commit', async () => {
    const pg = (await import('pg')).default;
    const locker = new pg.Client({ connectionString: process.env.DATABASE_URL! });
    const reader = new pg.Client({ connectionString: process.env.DATABASE_URL! });
    await Promise.all([locker.connect(), reader.connect()]);
    try {
      // Another transaction holds the stream's row lock: the appends must wait, unanswered.
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM "Stream" WHERE id = $1 FOR UPDATE', [streamId]);
      const answered: number[] = [];
      const pending = Array.from({ length: 20 }, (_, i) => appendEvents({ streamId, bodies: [{ held: i }] }).then((r) => (answered.push(r.first), r)));
      await new Promise((r) => setTimeout(r, 500));
      expect(answered).toEqual([]);
      await locker.query('COMMIT');
      const results = await Promise.all(pending);
      // Every answered index is committed: another connection sees it.
      for (const res of results) {
        const { rows } = await reader.query('SELECT body FROM "Event" WHERE "streamId" = $1 AND "index" = $2', [streamId, res.first]);
        expect(rows).toHaveLength(1);
      }
    } finally {
      await Promise.all([locker.end(), reader.end()]);
    }
  });
});
