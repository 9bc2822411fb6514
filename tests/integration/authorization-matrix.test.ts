// Every procedure of appRouter × every kind of caller, from one table (tests/integration/
// authorization-rows/*.ts, keyed by procedure path). A procedure without a row fails the test.
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase } from '../helpers/context.ts';
import { CALLERS, makeWorld, type CallerName, type MatrixRows, type World } from './authorization-rows/world.ts';
import { teamRows } from './authorization-rows/team.ts';
import { memberRows } from './authorization-rows/member.ts';
import { inviteRows } from './authorization-rows/invite.ts';
import { apiKeyRows } from './authorization-rows/api-key.ts';
import { streamRows } from './authorization-rows/stream.ts';
import { reducerRows } from './authorization-rows/reducer.ts';
import { effectRows } from './authorization-rows/effect.ts';
import { recipeRows } from './authorization-rows/recipe.ts';
import { senderDomainRows } from './authorization-rows/sender-domain.ts';
import { auditRows } from './authorization-rows/audit.ts';
import { accountRows } from './authorization-rows/account.ts';
import { sessionRows } from './authorization-rows/session.ts';
import { twoFactorRows } from './authorization-rows/two-factor.ts';

await useOwnDatabase('authz');
const { appRouter, createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');

const tables = { teamRows, memberRows, inviteRows, apiKeyRows, streamRows, reducerRows, effectRows, recipeRows, senderDomainRows, accountRows, sessionRows, twoFactorRows, auditRows };
const rows: MatrixRows = {};
const duplicates: string[] = [];
for (const table of Object.values(tables)) {
  for (const [path, row] of Object.entries(table)) {
    if (path in rows) duplicates.push(path);
    rows[path] = row;
  }
}
const procedures = Object.keys(appRouter._def.procedures).sort();

function contextFor(w: World, caller: CallerName) {
  const user = (u: { id: string; email: string }) => createContext({ user: u, db: w.db });
  const key = (k: string) => createContext({ authorization: `Bearer ${k}`, db: w.db });
  switch (caller) {
    case 'anonymous': return createContext({ db: w.db });
    case 'nonMember': return user(w.users.nonMember);
    case 'member': return user(w.users.member);
    case 'admin': return user(w.users.admin);
    case 'owner': return user(w.users.owner);
    case 'manageKey': return key(w.keys.manage);
    case 'otherTeamKey': return key(w.keys.otherTeam);
    case 'revokedKey': return key(w.keys.revoked);
    case 'ingestKey': return key(w.keys.ingest);
  }
}

async function outcomeOf(path: string, caller: CallerName): Promise<string> {
  const w = await makeWorld(db());
  const input = await rows[path].input(w, caller);
  const api = createCaller(await contextFor(w, caller));
  const fn = path.split('.').reduce<unknown>((node, part) => (node as Record<string, unknown>)[part], api) as (input: unknown) => Promise<unknown>;
  try {
    await fn(input);
    return 'ok';
  } catch (error) {
    if (error instanceof TRPCError) return error.code;
    throw error;
  }
}

describe('authorization matrix', () => {
  it('has exactly one row for every procedure of appRouter', () => {
    const missing = procedures.filter((p) => !(p in rows));
    const stale = Object.keys(rows).filter((p) => !procedures.includes(p));
    expect({ missing, stale, duplicates }).toEqual({ missing: [], stale: [], duplicates: [] });
  });

  for (const path of procedures.filter((p) => p in rows)) {
    it(`${path}`, async () => {
      const actual: Record<string, string> = {};
      // Each case gets a fresh world: a mutation by one caller never changes another's outcome.
      for (const caller of CALLERS) actual[caller] = await outcomeOf(path, caller);
      expect(actual).toEqual(rows[path].expect);
    });
  }
});

describe("another team's rows look like they do not exist", () => {
  it('refuses ids and slugs of another team with NOT_FOUND, for an admin of this team', async () => {
    const w = await makeWorld(db());
    const o = await makeWorld(db());
    const api = createCaller(await createContext({ user: w.users.owner, db: w.db }));
    const team = w.team.slug;
    const otherKeyId = (await db().apiKey.findFirstOrThrow({ where: { teamId: o.team.id, revokedAt: null } })).id;
    const attempts: Record<string, () => Promise<unknown>> = {
      'stream.get': () => api.stream.get({ team, stream: 'not-here' }),
      'stream.delete': () => api.stream.delete({ team, stream: 'not-here', confirm: 'not-here' }),
      'apiKey.revoke': () => api.apiKey.revoke({ team, id: otherKeyId }),
      'invite.revoke': () => api.invite.revoke({ team, id: o.invite.id }),
      'member.remove': () => api.member.remove({ team, userId: o.users.member.id }),
      'member.updateRole': () => api.member.updateRole({ team, userId: o.users.admin.id, role: 'member' }),
      'team.transferOwnership': () => api.team.transferOwnership({ team, userId: o.users.owner.id }),
      'apiKey.create (other stream)': () => api.apiKey.create({ team, name: 'x', scopes: ['read'], stream: 'nope' }),
      'team.get (other team)': () => api.team.get({ team: o.team.slug }),
    };
    const codes: Record<string, string> = {};
    for (const [name, call] of Object.entries(attempts)) codes[name] = await call().then(() => 'ok', (e: TRPCError) => e.code);
    expect(Object.values(codes).every((c) => c === 'NOT_FOUND'), JSON.stringify(codes)).toBe(true);
    // Nothing of the other team changed.
    expect(await db().apiKey.findUniqueOrThrow({ where: { id: otherKeyId } })).toMatchObject({ revokedAt: null });
    expect(await db().invite.findUniqueOrThrow({ where: { id: o.invite.id } })).toMatchObject({ revokedAt: null });
    expect(await db().membership.count({ where: { teamId: o.team.id } })).toBe(4);
  });
});
