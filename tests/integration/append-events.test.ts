// The one append path under concurrency: dense unique indices, contiguous batches, no partial batch.
import { beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam } from '../helpers/context.ts';

await useOwnDatabase('append');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');
const { db } = await import('../../src/lib/server/db/client.ts');

let streamId: string;
beforeAll(async () => {
  const team = await makeTeam(db());
  streamId = (await db().stream.create({ data: { teamId: team.id, slug: 'race', name: 'race' } })).id;
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
    const other = await db().stream.create({ data: { teamId: (await db().stream.findUniqueOrThrow({ where: { id: streamId } })).teamId, slug: 'wake', name: 'wake' } });
    await Promise.all(Array.from({ length: 10 }, (_, i) => appendEvents({ streamId: other.id, bodies: [i] })));
    const waiting = await queue('fold').getJobs(['waiting', 'prioritized']);
    expect(waiting.filter((j) => j.data.streamId === other.id)).toHaveLength(1);
  });
});
