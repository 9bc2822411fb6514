// Authorization without a database round trip, and still immediate revocation: two web processes
// cache keys and stream settings; a change made through one is refused (or applied) by the other
// by the time the changing call returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';

const own = await useOwnDatabase('authcache');
const { db } = await import('../../src/lib/server/db/client.ts');

let a: Running;
let b: Running;
let team: TeamFixture;
let manage: string;
beforeAll(async () => {
  [a, b] = await Promise.all([startWeb(own.env), startWeb(own.env)]);
  team = await makeTeam(db());
  manage = await team.key(['manage']);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

const trpc = (base: string, path: string, input: object) => postJson(`${base}/api/trpc/${path}`, { json: { team: team.slug, ...input } }, bearer(manage));

/** A few requests, so the process has subscribed to invalidations and cached the answer. */
async function warm(run: () => Promise<Response>, status: number) {
  for (let i = 0; i < 5; i++) {
    expect((await run()).status).toBe(status);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('cached authorization across two web processes', () => {
  it('refuses a key on every process as soon as apiKey.revoke returns', async () => {
    const key = await team.key(['ingest', 'read']);
    const onB = () => postJson(`${b.url}/s/${team.slug}/orders`, { n: 1 }, bearer(key));
    await warm(onB, 201);
    const row = await db().apiKey.findFirstOrThrow({ where: { teamId: team.id, prefix: key.split('_')[1] } });
    const revoked = await trpc(a.url, 'apiKey.revoke', { id: row.id });
    expect(revoked.status).toBe(200);
    await expectError(await onB(), 401, 'unauthorized');
    await expectError(await fetch(`${b.url}/s/${team.slug}/orders/0`, { headers: bearer(key) }), 401, 'unauthorized');
  });

  it('applies a stream setting on every process as soon as stream.update returns', async () => {
    const key = await team.key(['ingest']);
    await postJson(`${a.url}/s/${team.slug}/board`, { hello: true }, bearer(key));
    expect((await trpc(a.url, 'stream.update', { stream: 'board', publicRead: true })).status).toBe(200);
    const anonymousOnB = () => fetch(`${b.url}/s/${team.slug}/board/0`);
    await warm(anonymousOnB, 200);
    expect((await trpc(a.url, 'stream.update', { stream: 'board', publicRead: false })).status).toBe(200);
    await expectError(await anonymousOnB(), 401, 'unauthorized');
  });
});
