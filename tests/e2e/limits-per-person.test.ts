// Rate limits count a team across all its keys and a person across all their teams: more keys or
// more teams never buy more requests. A real web process; teams owned by real accounts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTeam, uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';

const own = await useOwnDatabase('per_person');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');

let web: Running;
beforeAll(async () => {
  web = await startWeb({ ...own.env, KEY_RATE_LIMIT_PER_MINUTE: '100000', ACCOUNT_RATE_LIMIT_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await web?.stop();
});

/** Appends `n` events with each key in turn; how many were accepted and the statuses seen. */
async function spray(teamSlug: string, keys: string[], n: number) {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await postJson(`${web.url}/s/${teamSlug}/events`, { i }, bearer(keys[i % keys.length]));
    statuses.push(res.status);
    if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    await res.body?.cancel();
  }
  return { accepted: statuses.filter((s) => s === 201).length, statuses: new Set(statuses) };
}

async function ownedTeams(count: number, rateLimitPerMinute: number | null) {
  const user = await db().user.create({ data: { email: `${uniqueSlug('u')}@example.com`, passwordHash: 'x', rateLimitPerMinute } });
  const teams = [];
  for (let i = 0; i < count; i++) {
    const t = await makeTeam(db());
    await db().team.update({ where: { id: t.id }, data: { accountId: user.id } });
    await db().membership.create({ data: { teamId: t.id, userId: user.id, role: 'owner' } });
    teams.push(t);
  }
  return teams;
}

describe('limits per team and per person', () => {
  it("holds a team to its limit across all of its keys: five keys get no more than one", async () => {
    const team = await makeTeam(db());
    await db().team.update({ where: { id: team.id }, data: { rateLimitPerMinute: 30 } });
    const keys = await Promise.all(Array.from({ length: 5 }, () => createApiKey({ teamId: team.id, name: 'k', scopes: ['ingest'] }).then((k) => k.key)));
    const { accepted, statuses } = await spray(team.slug, keys, 60);
    expect(accepted).toBe(30);
    expect([...statuses].sort()).toEqual([201, 429]);
    expect((await db().stream.findFirstOrThrow({ where: { teamId: team.id } })).length).toBe(30);
  });

  it('holds a person to their limit across all of their teams', async () => {
    const teams = await ownedTeams(3, 24);
    let accepted = 0;
    for (const t of teams) {
      const key = await t.key(['ingest']);
      accepted += (await spray(t.slug, [key], 20)).accepted;
    }
    expect(accepted).toBe(24);
    // Another person's team is untouched by it.
    const [other] = await ownedTeams(1, 24);
    expect((await spray(other.slug, [await other.key(['ingest'])], 5)).accepted).toBe(5);
  });

  it('names the limit that refused the request', async () => {
    const [t] = await ownedTeams(1, 2);
    const key = await t.key(['ingest']);
    await spray(t.slug, [key], 2);
    const res = await postJson(`${web.url}/s/${t.slug}/events`, { late: true }, bearer(key));
    expect(res.status).toBe(429);
    expect((await res.json()).error.message).toMatch(/across all the teams of this team's owner \(2 a minute\)/);
  });
});
