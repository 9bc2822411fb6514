// Long-lived answers among strangers: open streams end when their key is revoked (or their user
// leaves the team), live no longer than their maximum age, are capped per caller, and waiting
// costs PostgreSQL nothing until an append or a fold says there is something to read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';

const own = await useOwnDatabase('live');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');

let web: Running;
let team: TeamFixture;
beforeAll(async () => {
  web = await startWeb({ ...own.env, LIVE_REAUTH_MS: '500', LIVE_MAX_AGE_MS: '8000', LIVE_CONNECTIONS_PER_CALLER: '3', SSE_HEARTBEAT_MS: '200' });
  team = await makeTeam(db());
});
afterAll(() => web?.stop());

/** Reads an SSE response to its end (or the timeout), returning the raw text. */
async function readToEnd(res: Response, timeoutMs: number): Promise<{ text: string; ended: boolean }> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) {
      await reader.cancel();
      return { text, ended: false };
    }
    const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), left))]);
    if (next === null) continue;
    if (next.done) return { text, ended: true };
    text += next.value;
  }
}

describe('open streams', () => {
  it('end soon after their key is revoked', async () => {
    const key = await team.key(['ingest', 'read'], 'revoked');
    const res = await fetch(`${web.url}/s/${team.slug}/revoked/events?from=0`, { headers: bearer(key) });
    expect(res.status).toBe(200);
    // Revoked through the management API (every web process drops the key from its cache first).
    const row = await db().apiKey.findFirstOrThrow({ where: { teamId: team.id, streamId: streamIdFor(team.slug, 'revoked') } });
    const manage = await team.key(['manage']);
    expect((await postJson(`${web.url}/api/trpc/apiKey.revoke`, { json: { team: team.slug, id: row.id } }, bearer(manage))).status).toBe(200);
    const { text, ended } = await readToEnd(res, 10_000);
    expect(ended).toBe(true);
    expect(text).toMatch(/event: end\ndata: \{"reason":"unauthorized"/);
  });

  it('end when their maximum age is reached, telling the client to reconnect', async () => {
    const key = await team.key(['read']);
    await postJson(`${web.url}/s/${team.slug}/aged`, {}, bearer(await team.key(['ingest'])));
    const res = await fetch(`${web.url}/s/${team.slug}/aged/events?from=0`, { headers: bearer(key) });
    const { text, ended } = await readToEnd(res, 20_000);
    expect(ended).toBe(true);
    expect(text).toMatch(/id: 0\n/);
    expect(text).toMatch(/maximum age; reconnect with Last-Event-ID\nretry: \d+/);
  });

  it('are capped per caller: one more answers 429', async () => {
    const key = await team.key(['ingest', 'read']);
    await postJson(`${web.url}/s/${team.slug}/capped`, {}, bearer(key));
    const open = await Promise.all([0, 1, 2].map(() => fetch(`${web.url}/s/${team.slug}/capped/events`, { headers: bearer(key) })));
    expect(open.map((r) => r.status)).toEqual([200, 200, 200]);
    const fourth = await fetch(`${web.url}/s/${team.slug}/capped/events`, { headers: bearer(key) });
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    await expectError(fourth, 429, 'rate_limited');
    const longPoll = await fetch(`${web.url}/s/${team.slug}/capped/99?wait=5`, { headers: bearer(key) });
    await expectError(longPoll, 429, 'rate_limited');
    const other = await fetch(`${web.url}/s/${team.slug}/capped/0`, { headers: bearer(await team.key(['read'])) });
    expect(other.status).toBe(200); // another key is not affected
    await Promise.all(open.map((r) => r.body!.cancel()));
  });
});

describe('waiting', () => {
  it('costs PostgreSQL nothing while nothing happens, and answers at once when something does', async () => {
    const key = await team.key(['ingest', 'read']);
    const url = `${web.url}/s/${team.slug}/quiet`;
    await postJson(url, { n: 0 }, bearer(key));
    const stream = await db().stream.findFirstOrThrow({ where: { teamId: team.id, slug: 'quiet' } });
    await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0 });

    const stats = new pg.Client({ connectionString: own.databaseUrl });
    await stats.connect();
    const commits = async () => {
      await stats.query('SELECT pg_stat_force_next_flush()');
      const { rows } = await stats.query('SELECT xact_commit::int AS n FROM pg_stat_database WHERE datname = current_database()');
      return rows[0].n as number;
    };
    try {
      // Three waiters (the per-caller cap), each its own kind: a long-poll, a tail, a read-your-writes.
      const keys = await Promise.all([0, 1, 2].map(() => team.key(['read'])));
      const waiters = [
        fetch(`${url}/5?wait=30`, { headers: bearer(keys[0]) }),
        fetch(`${url}/events`, { headers: bearer(keys[1]) }),
        fetch(`${url}/state/count?after=5`, { headers: bearer(keys[2]) }),
      ];
      await new Promise((r) => setTimeout(r, 500));
      const before = await commits();
      await new Promise((r) => setTimeout(r, 3_000));
      const idle = (await commits()) - before;
      // This counts the probe's own four statements too; the waiters used to poll every 250 ms to 1 s (about 30).
      console.log(`3 waiters idle for 3 s: ${idle} PostgreSQL transactions`);
      expect(idle).toBeLessThan(12);
      for (let i = 1; i <= 5; i++) await postJson(url, { n: i }, bearer(key));
      await foldStream({ streamId: stream.id });
      const [element, state] = await Promise.all([waiters[0], waiters[2]]);
      expect(await element.json()).toEqual({ n: 5 });
      expect(state.status).toBe(200);
      expect(await state.json()).toBe(6);
      await (await waiters[1]).body?.cancel();
    } finally {
      await stats.end();
    }
  });
});
