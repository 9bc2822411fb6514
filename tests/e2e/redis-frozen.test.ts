// Redis slow, not down (issue 23): a redis-server stopped with SIGSTOP keeps its connections open
// and answers nothing, so every command waits out the 2 s command timeout. Appends must still answer
// right after their commit (rate limits fall back to the process's own within REDIS_FAST_PATH_MS,
// wake-ups and publishes wait in a buffer), and once Redis runs again the buffered wake-ups go out
// and every reducer catches up, with nothing lost.
import { afterEach, describe, expect, it } from 'vitest';
import { makeStream, makeTeam, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson, readSse } from '../helpers/http.ts';
import { redisOn } from '../helpers/faults.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

const own = await useOwnDatabase('redis-frozen');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

/** The producer connection's command timeout (lib/server/redis.ts): what each append used to wait. */
const COMMAND_TIMEOUT_MS = 2_000;

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

function started(run: Running): Running {
  cleanups.push(() => run.stop());
  return run;
}

const quantile = (xs: number[], q: number) => Math.round([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * q))]);

type Series = { indexes: number[]; durations: number[] };

/** `count` appends one after another; each answer's status and index. */
async function appendSeries(url: string, key: string, count: number, tag: string): Promise<Series> {
  const series: Series = { indexes: [], durations: [] };
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    const res = await postJson(url, { id: `${tag}-${i}` }, bearer(key));
    series.durations.push(performance.now() - t);
    expect(res.status, await res.clone().text()).toBe(201);
    series.indexes.push((await res.json()).index);
  }
  return series;
}

/** Appends from `clients` callers at once for `ms`; how many were acknowledged per second. */
async function throughput(url: string, key: string, clients: number, ms: number, tag: string): Promise<{ perSecond: number; acked: number }> {
  const until = performance.now() + ms;
  let acked = 0;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < until; i++) {
        const res = await postJson(url, { id: `${tag}-${c}-${i}` }, bearer(key));
        expect(res.status, await res.clone().text()).toBe(201);
        acked += 1;
      }
    }),
  );
  return { perSecond: Math.round((acked * 1000) / ms), acked };
}

describe('Redis frozen (SIGSTOP)', () => {
  it('appends answer right after their commit while Redis is frozen, and every reducer catches up once it thaws', async () => {
    const redis = redisOn(await freePort());
    cleanups.push(() => redis.kill());
    await redis.start();
    // The sweep runs only at start: catching up after the thaw is the buffered wake-ups' doing.
    const env = { ...own.env, REDIS_URL: redis.url, SWEEP_INTERVAL_MS: '600000' };
    const web = started(await startWeb(env));
    started(startWorkerProcess(env));
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const stream = await makeStream(db(), { teamId: team.id, slug: 'orders', name: 'orders' });
    await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
    const url = `${web.url}/s/${team.slug}/orders`;
    const countAfter = async (index: number) => {
      const res = await fetch(`${url}/state/count?after=${index}`, { headers: bearer(key) });
      expect(res.status, await res.clone().text()).toBe(200);
      return { count: await res.json(), folded: Number(res.headers.get('pipet-folded')) };
    };

    const up = await appendSeries(url, key, 20, 'up');
    expect(await countAfter(19)).toEqual({ count: 20, folded: 20 });
    const upRate = await throughput(url, key, 4, 2_000, 'up-load');
    let length = 20 + upRate.acked;
    // A live tail open across the freeze, from the next index on.
    const tail = readSse(`${url}/events?from=${length}`, { headers: bearer(key), count: 21, timeoutMs: 90_000 });

    redis.freeze();
    cleanups.push(async () => redis.thaw());
    const frozen = await appendSeries(url, key, 20, 'frozen');
    const frozenRate = await throughput(url, key, 4, 2_000, 'frozen-load');
    expect(frozen.indexes).toEqual(Array.from({ length: 20 }, (_, i) => length + i));
    length += 20 + frozenRate.acked;

    const thawedAt = performance.now();
    redis.thaw();
    const last = length - 1;
    expect(await countAfter(last)).toEqual({ count: length, folded: length });
    const caughtUpMs = Math.round(performance.now() - thawedAt);
    console.log(
      [
        `Redis frozen: 20 appends one after another answered 201, p50 ${quantile(frozen.durations, 0.5)} ms, p90 ${quantile(frozen.durations, 0.9)} ms, max ${quantile(frozen.durations, 1)} ms`,
        `(Redis up: p50 ${quantile(up.durations, 0.5)} ms, max ${quantile(up.durations, 1)} ms; command timeout ${COMMAND_TIMEOUT_MS} ms);`,
        `4 clients for 2 s: ${frozenRate.perSecond} appends/s frozen, ${upRate.perSecond}/s up;`,
        `after the thaw every reducer had folded all ${length} events in ${caughtUpMs} ms.`,
      ].join(' '),
    );
    const { events } = await tail;
    expect(events.slice(0, 21).map((e) => Number(e.id))).toEqual(Array.from({ length: 21 }, (_, i) => length - 20 - frozenRate.acked + i));

    const stored = await db().event.findMany({ where: { streamId: stream.id }, orderBy: { index: 'asc' }, select: { index: true } });
    expect(stored.map((e) => e.index)).toEqual(Array.from({ length }, (_, i) => i));

    // No append waited out the command timeout; most did not wait on Redis at all.
    expect(quantile(frozen.durations, 0.5)).toBeLessThan(COMMAND_TIMEOUT_MS / 4);
    expect(quantile(frozen.durations, 1)).toBeLessThan(COMMAND_TIMEOUT_MS);
    expect(frozenRate.perSecond).toBeGreaterThan(upRate.perSecond / 4);
  }, 120_000);
});
