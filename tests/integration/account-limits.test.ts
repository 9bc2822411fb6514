// A person is the unit: how many teams one account may own (however the requests are batched, and
// whether a team is created or handed over), and how many API keys one team may hold.
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';

await useOwnDatabase('account_limits');
Object.assign(process.env, { TEAMS_PER_ACCOUNT: '3', API_KEYS_PER_TEAM: '4' });
(await import('../../src/lib/server/env.ts')).resetEnv();
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { signUp } = await import('../../src/lib/server/auth/sign-up.ts');

let address = 0;
async function person() {
  const { user, team } = await signUp({ email: `${uniqueSlug('p')}@example.com`, password: 'correct horse battery', clientAddress: `10.1.0.${++address}` });
  const api = createCaller(await createContext({ user, origin: 'http://pipet.test' }));
  return { user, team, api };
}
const failure = (p: Promise<unknown>) => p.then(() => null, (e: TRPCError) => ({ code: e.code, message: e.message }));

describe('teams per account', () => {
  it('refuses teams beyond the limit even when twenty are asked for at once, counting the personal team', async () => {
    const ada = await person();
    const slugs = Array.from({ length: 20 }, () => uniqueSlug('t'));
    const results = await Promise.allSettled(slugs.map((slug) => ada.api.team.create({ slug })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(2);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.status === 'rejected' && (refused.reason as TRPCError).message).toMatch(/may own 3 teams, and this one owns 3/);
    expect(await ada.api.team.list()).toHaveLength(3);
    expect(await db().team.count({ where: { accountId: ada.user.id } })).toBe(3);
  });

  it('follows the account’s own limit once an operator raises it', async () => {
    const bob = await person();
    await bob.api.team.create({ slug: uniqueSlug('b') });
    await bob.api.team.create({ slug: uniqueSlug('b') });
    expect(await failure(bob.api.team.create({ slug: uniqueSlug('b') }))).toMatchObject({ code: 'FORBIDDEN' });
    await db().user.update({ where: { id: bob.user.id }, data: { maxTeams: 4 } });
    await bob.api.team.create({ slug: uniqueSlug('b') });
    expect(await bob.api.team.list()).toHaveLength(4);
  });

  it('refuses a transfer of ownership to someone who already owns their limit, and moves the account on a transfer', async () => {
    const owner = await person();
    const full = await person();
    await full.api.team.create({ slug: uniqueSlug('f') });
    await full.api.team.create({ slug: uniqueSlug('f') });
    const shared = uniqueSlug('shared');
    await owner.api.team.create({ slug: shared });
    const team = await db().team.findUniqueOrThrow({ where: { slug: shared } });
    await db().membership.create({ data: { teamId: team.id, userId: full.user.id, role: 'admin' } });
    expect(await failure(owner.api.team.transferOwnership({ team: shared, userId: full.user.id }))).toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/may own 3 teams/) });
    // Nothing changed: the owner is still the owner and the account.
    expect(await db().team.findUniqueOrThrow({ where: { id: team.id }, select: { accountId: true } })).toEqual({ accountId: owner.user.id });
    expect(await db().membership.findUniqueOrThrow({ where: { teamId_userId: { teamId: team.id, userId: full.user.id } } })).toMatchObject({ role: 'admin' });

    const free = await person();
    await db().membership.create({ data: { teamId: team.id, userId: free.user.id, role: 'admin' } });
    await owner.api.team.transferOwnership({ team: shared, userId: free.user.id });
    expect(await db().team.findUniqueOrThrow({ where: { id: team.id }, select: { accountId: true } })).toEqual({ accountId: free.user.id });
    // The previous owner has room for a team again.
    await owner.api.team.create({ slug: uniqueSlug('o') });
  });

  it('passes the account to the remaining owner when the accountable owner leaves', async () => {
    const a = await person();
    const b = await person();
    const slug = uniqueSlug('duo');
    await a.api.team.create({ slug });
    const team = await db().team.findUniqueOrThrow({ where: { slug } });
    await db().membership.create({ data: { teamId: team.id, userId: b.user.id, role: 'owner' } });
    await a.api.member.leave({ team: slug });
    expect(await db().team.findUniqueOrThrow({ where: { id: team.id }, select: { accountId: true } })).toEqual({ accountId: b.user.id });
  });
});

describe('API keys per team', () => {
  it('refuses a key beyond the limit, counting live keys only, even when asked for at once', async () => {
    const ada = await person();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => ada.api.apiKey.create({ team: ada.team.slug, name: `k${i}`, scopes: ['ingest'] })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(4);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.status === 'rejected' && (refused.reason as TRPCError).message).toMatch(/4 live API keys/);
    const [first] = await ada.api.apiKey.list({ team: ada.team.slug });
    await ada.api.apiKey.revoke({ team: ada.team.slug, id: first.id });
    await ada.api.apiKey.create({ team: ada.team.slug, name: 'again', scopes: ['read'] });
  });
});
