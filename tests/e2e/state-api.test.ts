// The state routes over real HTTP, with a real worker folding: read-your-writes after every POST.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, type TeamFixture, makeStream } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson, readSse } from '../helpers/http.ts';

const own = await useOwnDatabase('state');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

let web: Running;
let worker: Running;
let team: TeamFixture;
let key: string;
let streamId: string;

beforeAll(async () => {
  web = await startWeb({ ...own.env, SSE_HEARTBEAT_MS: '300' });
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  key = await team.key(['ingest', 'read']);
  streamId = (await makeStream(db(), { teamId: team.id, slug: 'clicks', name: 'clicks' })).id;
  await upsertReducer({ streamId, name: 'count', code: '(n) => n + 1', initialState: 0 });
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
});

const url = (path = '') => `${web.url}/s/${team.slug}/clicks${path}`;

describe('GET /state/{reducer}', () => {
  it('is right after every POST with ?after=<index>', async () => {
    for (let i = 0; i < 15; i++) {
      const { index } = await (await postJson(url(), { click: i }, bearer(key))).json();
      const res = await fetch(url(`/state/count?after=${index}`), { headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(await res.json()).toBe(index + 1);
      expect(Number(res.headers.get('pipet-folded'))).toBeGreaterThanOrEqual(index + 1);
    }
  });

  it('answers ?at=i with the state right after event i (time travel), and refuses an event not folded yet', async () => {
    const { index } = await (await postJson(url(), { click: 'last' }, bearer(key))).json();
    expect((await fetch(url(`/state/count?after=${index}`), { headers: bearer(key) })).status).toBe(200);
    for (const i of [0, 7, index]) {
      const res = await fetch(url(`/state/count?at=${i}`), { headers: bearer(key) });
      expect(res.status).toBe(200);
      expect(await res.json()).toBe(i + 1);
      expect(res.headers.get('pipet-folded')).toBe(String(i + 1));
    }
    await expectError(await fetch(url(`/state/count?at=${index + 100}`), { headers: bearer(key) }), 409, 'conflict');
    await expectError(await fetch(url('/state/count?at=-1'), { headers: bearer(key) }), 400, 'bad_request');
    await expectError(await fetch(url('/state/count?at=1&after=1'), { headers: bearer(key) }), 400, 'bad_request');
  });

  it('answers with an ETag and 304 when unchanged', async () => {
    const first = await fetch(url('/state/count'), { headers: bearer(key) });
    const tag = first.headers.get('etag')!;
    expect(tag).toMatch(/^W\/"\d+-\d+"$/);
    const again = await fetch(url('/state/count'), { headers: { ...bearer(key), 'if-none-match': tag } });
    expect(again.status).toBe(304);
  });

  it('404 for an unknown reducer; 409 when the reducer stopped before the event', async () => {
    await expectError(await fetch(url('/state/nope'), { headers: bearer(key) }), 404, 'not_found');
    await upsertReducer({ streamId, name: 'picky', code: '(s, e) => { if (e.boom) throw new Error("boom"); return s + 1; }', initialState: 0 });
    const { index } = await (await postJson(url(), { boom: true }, bearer(key))).json();
    const res = await fetch(url(`/state/picky?after=${index}`), { headers: bearer(key) });
    const err = await expectError(res, 409, 'conflict');
    expect(err.message).toContain('boom');
  });

  it('streams state changes as Server-Sent Events', async () => {
    const before = await (await fetch(url('/state/count'), { headers: bearer(key) })).json();
    const { events } = await readSse(url('/state/count/events'), {
      headers: bearer(key),
      count: 2,
      onOpen: async () => void (await postJson(url(), { click: 'sse' }, bearer(key))),
    });
    const parsed = events.map((e) => JSON.parse(e.data));
    expect(parsed[0]).toEqual({ folded: before, state: before });
    expect(parsed[1]).toEqual({ folded: before + 1, state: before + 1 });
  });

  it('needs the read scope', async () => {
    const ingestOnly = await team.key(['ingest']);
    await expectError(await fetch(url('/state/count'), { headers: bearer(ingestOnly) }), 403);
  });
});
