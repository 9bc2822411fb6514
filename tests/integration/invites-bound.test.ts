// Invites bound to a verified email, through appRouter.createCaller with real contexts: the issue's
// escalation (a member reads an admin invite's link in the outbox and accepts it from another
// account) fails at every step, and the link is nowhere a member (or a later listing) can see it.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';

await useOwnDatabase('invites-bound');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');

async function person({ email = `${uniqueSlug('p')}@example.com`, verified = true } = {}) {
  const { user, team } = await createUser({ email, password: 'correct horse battery', verified });
  const api = createCaller(await createContext({ user, origin: 'http://pipet.test' }));
  return { user, team, api };
}
const failure = (p: Promise<unknown>) => p.then(() => ({ code: 'ok', message: '' }), (e: TRPCError) => ({ code: e.code, message: e.message }));

describe('an invite is for the address it was sent to', () => {
  it("a member cannot find an admin invite's link, and cannot use it from another account", async () => {
    const owner = await person();
    const member = await person();
    const evil = await person({ email: `${uniqueSlug('evil')}@example.com` });
    const team = owner.team.slug;
    await db().membership.create({ data: { teamId: owner.team.id, userId: member.user.id, role: 'member' } });
    const bossEmail = `${uniqueSlug('boss')}@example.com`;
    const invite = await owner.api.invite.create({ team, email: bossEmail, role: 'admin' });
    const token = invite.url.split('/invite/')[1];
    expect(token).toMatch(/^[a-z0-9]{32}$/);

    // The outbox: the invite email is listed (to, subject), its link is not, for members and admins alike.
    const stored = await db().emailMessage.findFirstOrThrow({ where: { to: bossEmail } });
    expect(stored.text).toContain(invite.url);
    for (const reader of [member, owner]) {
      const { items } = await reader.api.effect.emails({ team });
      const listed = items.find((m) => m.to === bossEmail)!;
      expect(listed.subject).toContain('invited');
      expect(JSON.stringify(items)).not.toContain(token);
      expect(listed.text).toContain('/invite/[link hidden');
      expect(listed.html).toContain('/invite/[link hidden');
    }
    // tRPC: members cannot list invites; admins see them without link or token.
    expect(await failure(member.api.invite.list({ team }))).toMatchObject({ code: 'FORBIDDEN' });
    const listed = await owner.api.invite.list({ team });
    expect(listed.map((i) => i.id)).toEqual([invite.id]);
    expect(JSON.stringify(listed)).not.toContain(token);
    expect(JSON.stringify(listed)).not.toContain(hashOf(token));

    // Someone holding the link anyway: the address is masked, and accepting is refused, changing nothing.
    expect(await evil.api.invite.preview({ token })).toMatchObject({ email: `${bossEmail[0]}…@…`, forYou: false, role: 'admin' });
    expect(await createCaller(await createContext({})).invite.preview({ token })).toMatchObject({ email: `${bossEmail[0]}…@…`, forYou: false });
    for (const taker of [evil, member]) {
      expect(await failure(taker.api.invite.accept({ token }))).toEqual({ code: 'FORBIDDEN', message: `This invite is for ${bossEmail[0]}…@… — sign in as that address to accept it.` });
    }
    expect(await failure(evil.api.team.get({ team }))).toMatchObject({ code: 'NOT_FOUND' });
    expect(Object.fromEntries((await owner.api.member.list({ team })).map((m) => [m.email, m.role]))).toEqual({ [owner.user.email]: 'owner', [member.user.email]: 'member' });
    expect((await db().invite.findUniqueOrThrow({ where: { id: invite.id } })).acceptedAt).toBeNull();

    // The right account, unverified: refused too. Verified: it joins as admin.
    const boss = await person({ email: bossEmail, verified: false });
    expect(await boss.api.invite.preview({ token })).toMatchObject({ email: bossEmail, forYou: true });
    expect(await failure(boss.api.invite.accept({ token }))).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('Verify your email address') });
    await db().user.update({ where: { id: boss.user.id }, data: { emailVerifiedAt: new Date() } });
    expect(await boss.api.invite.accept({ token })).toEqual({ team: { slug: team, name: expect.any(String) }, role: 'admin' });
    expect(await failure(evil.api.invite.accept({ token }))).toMatchObject({ code: 'NOT_FOUND' });
  });
});

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
