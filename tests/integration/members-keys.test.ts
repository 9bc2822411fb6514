// Members and their keys: a person who leaves a team (or is removed) takes the keys they made with
// them, a key made by a key still names its person, and an admin may keep a key by taking it over.
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';

await useOwnDatabase('members_keys');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createTeam } = await import('../../src/lib/server/teams/create-team.ts');

async function user() {
  const u = await db().user.create({ data: { email: `${uniqueSlug('u')}@example.com`, passwordHash: null }, select: { id: true, email: true } });
  return { ...u, api: createCaller(await createContext({ user: u, origin: 'http://pipet.test' })) };
}
const asKey = async (key: string) => createCaller(await createContext({ authorization: `Bearer ${key}` }));
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: TRPCError) => e.code);

/** A team with an owner and an admin; the admin has made a manage key, and with it another key. */
async function teamWithAdminKeys() {
  const owner = await user();
  const admin = await user();
  const slug = uniqueSlug('t');
  const team = await db().$transaction((tx) => createTeam({ slug, ownerId: owner.id, db: tx }));
  await db().membership.create({ data: { teamId: team.id, userId: admin.id, role: 'admin' } });
  const manage = await admin.api.apiKey.create({ team: slug, name: 'deploy', scopes: ['manage'] });
  const viaKey = await (await asKey(manage.key)).apiKey.create({ team: slug, name: 'made by a key', scopes: ['ingest'] });
  return { owner, admin, slug, team, manage, viaKey };
}

describe('members and keys', () => {
  it('names the person behind every key, including a key made by a key', async () => {
    const { owner, admin, slug, manage, viaKey } = await teamWithAdminKeys();
    const listed = await owner.api.apiKey.list({ team: slug });
    expect(listed.find((k) => k.id === manage.id)).toMatchObject({ createdBy: admin.email, createdByKey: null });
    expect(listed.find((k) => k.id === viaKey.id)).toMatchObject({ createdBy: admin.email, createdByKey: manage.prefix });
  });

  it('kills a removed admin’s keys at once, the ones made by their keys too, and lists them first', async () => {
    const { owner, admin, slug, manage, viaKey } = await teamWithAdminKeys();
    expect((await owner.api.member.keys({ team: slug, userId: admin.id })).map((k) => k.id).sort()).toEqual([manage.id, viaKey.id].sort());
    const removed = await owner.api.member.remove({ team: slug, userId: admin.id });
    expect(removed.revokedKeys.map((k) => k.name).sort()).toEqual(['deploy', 'made by a key']);
    // The old manage key can no longer make keys (the escalation in issue 19), nor read anything.
    expect(await code((await asKey(manage.key)).apiKey.create({ team: slug, name: 'sneaky', scopes: ['manage'] }))).toBe('UNAUTHORIZED');
    expect(await code((await asKey(manage.key)).stream.list({ team: slug }))).toBe('UNAUTHORIZED');
    expect(await owner.api.apiKey.list({ team: slug })).toEqual([]);
  });

  it('keeps a key an admin took over before removing its creator', async () => {
    const { owner, admin, slug, manage, viaKey } = await teamWithAdminKeys();
    await owner.api.apiKey.handOver({ team: slug, id: viaKey.id });
    await owner.api.member.remove({ team: slug, userId: admin.id });
    const listed = await owner.api.apiKey.list({ team: slug });
    expect(listed.map((k) => k.id)).toEqual([viaKey.id]);
    expect(listed[0]).toMatchObject({ createdBy: owner.email, createdByKey: null });
    expect(await code((await asKey(manage.key)).stream.list({ team: slug }))).toBe('UNAUTHORIZED');
  });

  it('revokes the keys of a member who leaves, and only the manage keys of an admin made a member', async () => {
    const a = await teamWithAdminKeys();
    await a.admin.api.member.leave({ team: a.slug });
    expect(await a.owner.api.apiKey.list({ team: a.slug })).toEqual([]);

    const b = await teamWithAdminKeys();
    const demoted = await b.owner.api.member.updateRole({ team: b.slug, userId: b.admin.id, role: 'member' });
    expect(demoted.revokedKeys.map((k) => k.name)).toEqual(['deploy']);
    expect((await b.owner.api.apiKey.list({ team: b.slug })).map((k) => k.name)).toEqual(['made by a key']);
  });

  it('hands keys over only to a signed-in admin of the same team', async () => {
    const { slug, manage, viaKey } = await teamWithAdminKeys();
    expect(await code((await asKey(manage.key)).apiKey.handOver({ team: slug, id: viaKey.id }))).toBe('FORBIDDEN');
    const stranger = await user();
    expect(await code(stranger.api.apiKey.handOver({ team: slug, id: viaKey.id }))).toBe('NOT_FOUND');
  });
});
