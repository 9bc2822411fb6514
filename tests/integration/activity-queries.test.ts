// The queries behind the pictures: events per minute over the last hour (binary search over the
// event key, no scan), and effects per time bucket by status.
import { describe, expect, it } from 'vitest';
import { useOwnDatabase, uniqueSlug, makeStream } from '../helpers/context.ts';
import { countEventsPerMinute, minuteStarts } from '../../src/lib/server/streams/count-events-per-minute.ts';
import { countEffectsByStatus } from '../../src/lib/server/effects/count-effects-by-status.ts';
import { newSigningSecret } from '../../src/lib/server/teams/create-team.ts';

await useOwnDatabase('activity');
const { db } = await import('../../src/lib/server/db/client.ts');

async function streamWithEvents(minutesAgo: number[]) {
  const team = await db().team.create({ data: { slug: uniqueSlug('t'), name: 't', signingSecret: newSigningSecret() } });
  const stream = await makeStream(db(), { teamId: team.id, slug: 's', name: 's' });
  const [{ now }] = await db().$queryRaw<{ now: Date }[]>`SELECT now() AS now`;
  // Arrival order: oldest first, as indices are assigned.
  const times = minutesAgo.map((m) => new Date(now.getTime() - m * 60_000)).sort((a, b) => a.getTime() - b.getTime());
  await db().event.createMany({ data: times.map((receivedAt, index) => ({ streamId: stream.id, index, body: { index }, receivedAt })) });
  const updated = await db().stream.update({ where: { id: stream.id }, data: { length: times.length, lastEventAt: times.at(-1) ?? null } });
  return { team, stream: updated, now };
}

describe('countEventsPerMinute', () => {
  it('counts each minute of the last hour, ignoring older events', async () => {
    const ago = [90, 75, 61.5, 45.2, 45.1, 30.4, 30.3, 30.2, 10, 0.01, 0];
    const { stream, now } = await streamWithEvents(ago);
    const { minutes, rates } = await countEventsPerMinute({ streams: [stream], db: db() });
    expect(minutes).toHaveLength(60);
    const starts = minuteStarts(now, 60);
    const expected = starts.map((start, i) => {
      const end = i < 59 ? starts[i + 1].getTime() : Infinity;
      return ago.filter((m) => {
        const t = now.getTime() - m * 60_000;
        return t >= start.getTime() && t < end;
      }).length;
    });
    expect(rates[0].perMinute).toEqual(expected);
    expect(rates[0].perMinute.reduce((a, b) => a + b, 0)).toBe(ago.filter((m) => now.getTime() - m * 60_000 >= starts[0].getTime()).length);
  });

  it('answers zeros for empty and quiet streams without reading their events', async () => {
    const { stream: quiet } = await streamWithEvents([200, 150]);
    const { stream: empty } = await streamWithEvents([]);
    const { rates } = await countEventsPerMinute({ streams: [quiet, empty], db: db() });
    expect(rates.map((r) => r.perMinute.every((n) => n === 0))).toEqual([true, true]);
  });
});

describe('countEffectsByStatus', () => {
  it('buckets the window by creation time and status', async () => {
    const { team, stream, now } = await streamWithEvents([1]);
    const reducer = await db().reducer.create({ data: { streamId: stream.id, name: 'r', code: '(s) => s' } });
    const rows = [
      { status: 'delivered', ago: 5 },
      { status: 'delivered', ago: 6 },
      { status: 'failed', ago: 7 },
      { status: 'pending', ago: 125 },
      { status: 'suppressed', ago: 60 * 30 },
    ] as const;
    await db().effect.createMany({
      data: rows.map((r, i) => ({
        id: `eff_test_${team.id}_${i}`,
        teamId: team.id,
        streamId: stream.id,
        reducerId: reducer.id,
        version: 1,
        eventIndex: 0,
        ordinal: i,
        kind: 'webhook',
        payload: {},
        status: r.status,
        createdAt: new Date(now.getTime() - r.ago * 60_000),
      })),
    });
    const { bucketSeconds, buckets } = await countEffectsByStatus({ teamId: team.id, hours: 24, buckets: 48, db: db() });
    expect(bucketSeconds).toBe(1800);
    expect(buckets).toHaveLength(48);
    const total = (s: 'delivered' | 'failed' | 'pending' | 'suppressed') => buckets.reduce((n, b) => n + b[s], 0);
    expect([total('delivered'), total('failed'), total('pending'), total('suppressed')]).toEqual([2, 1, 1, 0]);
    // The last bucket holds the newest ones; buckets run oldest first, half an hour apart.
    expect(buckets.at(-1)!.delivered + buckets.at(-2)!.delivered).toBe(2);
    expect(buckets[1].start.getTime() - buckets[0].start.getTime()).toBe(1_800_000);
  });
});
