// Reducers through the management API of the built server, the way the UI and scripts use it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTRPCClient, httpBatchLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../src/lib/server/trpc/root.ts';
import { makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';

const own = await useOwnDatabase('reducers-api');
const { db } = await import('../../src/lib/server/db/client.ts');

let web: Running;
let worker: Running;
let team: TeamFixture;
let api: ReturnType<typeof createTRPCClient<AppRouter>>;
let ingest: string;

beforeAll(async () => {
  web = await startWeb(own.env);
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  const manage = await team.key(['manage']);
  ingest = await team.key(['ingest', 'read']);
  api = createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${web.url}/api/trpc`, transformer: superjson, headers: bearer(manage) })] });
  await api.stream.create.mutate({ team: team.slug, stream: 'signups' });
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
});

const url = (path = '') => `${web.url}/s/${team.slug}/signups${path}`;

describe('reducer procedures over HTTP', () => {
  it('dry-runs code against given events, in the sandbox, with no side effects', async () => {
    const result = await api.reducer.dryRun.mutate({
      team: team.slug,
      stream: 'signups',
      code: '(s, e, i) => { if (e.plan === "pro") request("https://crm.example/pro", { body: e }); return s + 1; }',
      initialState: 0,
      events: [{ plan: 'free' }, { plan: 'pro' }],
    });
    expect(result.steps.map((s) => s.state)).toEqual([1, 2]);
    expect(result.effects).toMatchObject([{ kind: 'webhook', eventIndex: 1, ordinal: 0, payload: { url: 'https://crm.example/pro', method: 'POST' } }]);
    expect(result.error).toBeNull();
    expect(await db().effect.count({ where: { teamId: team.id } })).toBe(0);
  });

  it('reports a dry run that throws, with the failing index', async () => {
    const result = await api.reducer.dryRun.mutate({ team: team.slug, stream: 'signups', code: '(s, e) => e.missing.field', initialState: 0, events: [{}, {}] });
    expect(result.error).toMatchObject({ index: 0, kind: 'threw' });
    expect(result.steps).toEqual([]);
  });

  it('saves a reducer whose state then follows the stream; new code can replay from index 0', async () => {
    await api.reducer.upsert.mutate({ team: team.slug, stream: 'signups', name: 'plans', code: '(s, e) => ({ ...s, [e.plan]: (s[e.plan] || 0) + 1 })', initialState: {} });
    let last = 0;
    for (const plan of ['free', 'pro', 'free']) last = (await (await postJson(url(), { plan }, bearer(ingest))).json()).index;
    const state = await (await fetch(url(`/state/plans?after=${last}`), { headers: bearer(ingest) })).json();
    expect(state).toEqual({ free: 2, pro: 1 });

    const saved = await api.reducer.upsert.mutate({ team: team.slug, stream: 'signups', name: 'plans', code: '(s, e) => s + 1', initialState: 0, replay: true });
    expect(saved).toMatchObject({ version: 2, changed: true });
    const deadline = Date.now() + 15_000;
    let got: { version: number; replay: unknown; status: string };
    do {
      got = await api.reducer.get.query({ team: team.slug, stream: 'signups', name: 'plans' });
      if (got.version === 2 && got.replay === null) break;
      await new Promise((r) => setTimeout(r, 200));
    } while (Date.now() < deadline);
    expect(await (await fetch(url('/state/plans'), { headers: bearer(ingest) })).json()).toBe(3);
    const listed = await api.reducer.list.query({ team: team.slug, stream: 'signups' });
    expect(listed.map((r) => [r.name, r.status, r.folded])).toEqual([['plans', 'active', 3]]);
  });

  it('refuses bad names and unknown reducers clearly', async () => {
    await expect(api.reducer.upsert.mutate({ team: team.slug, stream: 'signups', name: 'Bad Name', code: '(s) => s' })).rejects.toThrow(/lowercase/);
    const err = await api.reducer.get.query({ team: team.slug, stream: 'signups', name: 'nope' }).catch((e) => e);
    expect(err).toBeInstanceOf(TRPCClientError);
    expect((err as TRPCClientError<AppRouter>).data?.code).toBe('NOT_FOUND');
  });
});
