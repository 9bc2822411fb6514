// The audit log (issue 19): every management action lands in the team's system stream `_audit` with
// who did it (a person, or a key and its person), from which address, and what it was done to — never
// a secret. Admins and manage keys list and filter it; members cannot; nobody can change or delete it.
import { describe, expect, it } from 'vitest';
import { TRPCError } from '@trpc/server';
import { useOwnDatabase, uniqueSlug } from '../helpers/context.ts';

await useOwnDatabase('audit_log');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createTeam } = await import('../../src/lib/server/teams/create-team.ts');
const { createSession, sessionHandle } = await import('../../src/lib/server/auth/sessions.ts');
const { streamIdFor } = await import('../../src/lib/server/streams/stream-id.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
const { authorizeStream } = await import('../../src/lib/server/auth/authorize-stream.ts');
const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
const { fireTimer } = await import('../../src/lib/server/effects/fire-timer.ts');

type Api = ReturnType<typeof createCaller>;

async function person(address: string) {
  const u = await db().user.create({ data: { email: `${uniqueSlug('p')}@example.com`, passwordHash: null, emailVerifiedAt: new Date() }, select: { id: true, email: true } });
  const { session } = await createSession(u.id);
  const api = createCaller(await createContext({ user: u, session, clientAddress: address, origin: 'http://pipet.test' }));
  return { ...u, session, api };
}
const asKey = async (key: string, address: string) => createCaller(await createContext({ authorization: `Bearer ${key}`, clientAddress: address }));
const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: TRPCError) => e.code);

/** A team with an owner (203.0.113.1), an admin (203.0.113.2) and a member (203.0.113.3). */
async function world() {
  const owner = await person('203.0.113.1');
  const admin = await person('203.0.113.2');
  const member = await person('203.0.113.3');
  const slug = uniqueSlug('t');
  const team = await db().$transaction((tx) => createTeam({ slug, ownerId: owner.id, db: tx }));
  await db().membership.createMany({ data: [{ teamId: team.id, userId: admin.id, role: 'admin' }, { teamId: team.id, userId: member.id, role: 'member' }] });
  return { owner, admin, member, slug, team };
}

async function log(api: Api, team: string, filters: { action?: string; actor?: string } = {}) {
  return (await api.audit.list({ team, limit: 200, ...(filters as object) })).entries;
}

describe('the audit log', () => {
  it('records every management action with its actor, address and target, and no secret', async () => {
    const { owner, admin, member, slug, team } = await world();

    // Keys: made by a person, and by a key (which names its person), revoked, handed over.
    const manage = await admin.api.apiKey.create({ team: slug, name: 'deploy', scopes: ['manage'] });
    const script = await asKey(manage.key, '198.51.100.7');
    const viaKey = await script.apiKey.create({ team: slug, name: 'made by a key', scopes: ['ingest'] });
    await owner.api.apiKey.handOver({ team: slug, id: viaKey.id });
    await owner.api.apiKey.revoke({ team: slug, id: viaKey.id });

    // Members: invited (and an invite revoked), role changed, removed (with the keys it revokes), joined.
    const invited = await admin.api.invite.create({ team: slug, email: 'newcomer@example.com', role: 'member' });
    const other = await admin.api.invite.create({ team: slug, email: 'other@example.com', role: 'member' });
    await admin.api.invite.revoke({ team: slug, id: other.id });
    await owner.api.member.updateRole({ team: slug, userId: member.id, role: 'admin' });
    const joiner = await db().user.create({ data: { email: 'newcomer@example.com', passwordHash: null, emailVerifiedAt: new Date() }, select: { id: true, email: true } });
    const joinerApi = createCaller(await createContext({ user: joiner, clientAddress: '203.0.113.9' }));
    await joinerApi.invite.accept({ token: new URL(invited.url).pathname.split('/').pop()! });

    // Streams: created, settings changed, signature required, deleted.
    await owner.api.stream.create({ team: slug, stream: 'orders' });
    await owner.api.stream.update({ team: slug, stream: 'orders', publicRead: true, name: 'Orders' });
    const signature = await owner.api.stream.setSignature({ team: slug, stream: 'orders', scheme: 'github' });
    await owner.api.stream.create({ team: slug, stream: 'scratch' });
    await owner.api.stream.delete({ team: slug, stream: 'scratch', confirm: 'scratch' });

    // Reducers: saved, saved again unchanged (no entry), replayed, deleted.
    await script.reducer.upsert({ team: slug, stream: 'orders', name: 'count', code: '(n, e) => n + 1', initialState: 0 });
    await script.reducer.upsert({ team: slug, stream: 'orders', name: 'count', code: '(n, e) => n + 1', initialState: 0 });
    await owner.api.reducer.replay({ team: slug, stream: 'orders', name: 'count' });
    await owner.api.reducer.delete({ team: slug, stream: 'orders', name: 'count' });

    // Team settings, the signing secret, ownership.
    await owner.api.team.rename({ team: slug, name: 'Acme' });
    await owner.api.team.update({ team: slug, autoCreateStreams: false });
    const { signingSecret } = await owner.api.team.rotateSigningSecret({ team: slug });
    await owner.api.team.transferOwnership({ team: slug, userId: admin.id });

    // The removed admin (the new admin: `member`) takes their keys with them.
    const memberKey = await member.api.apiKey.create({ team: slug, name: 'member key', scopes: ['read'] });
    await admin.api.member.remove({ team: slug, userId: member.id });

    const entries = (await log(owner.api, slug)).reverse();
    const byAction = (action: string) => entries.filter((e) => e.action === action);
    const ownerActor = { type: 'user', id: owner.id, email: owner.email };
    const adminActor = { type: 'user', id: admin.id, email: admin.email };
    const keyActor = { type: 'key', id: manage.id, name: 'deploy', prefix: manage.prefix, createdBy: { id: admin.id, email: admin.email } };

    expect(entries.map((e) => e.action)).toEqual([
      'key.created',
      'key.created',
      'key.handed_over',
      'key.revoked',
      'member.invited',
      'member.invited',
      'member.invite_revoked',
      'member.role_changed',
      'member.joined',
      'stream.created',
      'stream.settings_changed',
      'stream.signature_changed',
      'stream.created',
      'stream.deleted',
      'reducer.saved',
      'reducer.replayed',
      'reducer.deleted',
      'team.settings_changed',
      'team.settings_changed',
      'team.signing_secret_rotated',
      'team.ownership_transferred',
      'key.created',
      'member.removed',
    ]);
    expect(byAction('key.created')[0]).toMatchObject({ actor: adminActor, address: '203.0.113.2', target: { key: manage.id, name: 'deploy', prefix: manage.prefix, scopes: ['manage'] } });
    expect(byAction('key.created')[1]).toMatchObject({ actor: keyActor, address: '198.51.100.7', target: { key: viaKey.id, name: 'made by a key' } });
    expect(byAction('key.handed_over')[0]).toMatchObject({ actor: ownerActor, address: '203.0.113.1', target: { key: viaKey.id } });
    expect(byAction('key.revoked')[0]).toMatchObject({ actor: ownerActor, target: { key: viaKey.id, prefix: viaKey.prefix } });
    expect(byAction('member.invited')[0]).toMatchObject({ actor: adminActor, target: { invite: invited.id, email: 'newcomer@example.com', role: 'member' } });
    expect(byAction('member.invite_revoked')[0]).toMatchObject({ actor: adminActor, target: { invite: other.id, email: 'other@example.com' } });
    expect(byAction('member.role_changed')[0]).toMatchObject({ actor: ownerActor, target: { userId: member.id, email: member.email, from: 'member', to: 'admin' } });
    expect(byAction('member.joined')[0]).toMatchObject({ actor: { type: 'user', id: joiner.id }, address: '203.0.113.9', target: { email: 'newcomer@example.com', role: 'member' } });
    expect(byAction('stream.settings_changed')[0]).toMatchObject({ actor: ownerActor, target: { stream: 'orders', changes: { publicRead: true, name: 'Orders' } } });
    expect(byAction('stream.signature_changed')[0]).toMatchObject({ target: { stream: 'orders', scheme: 'github' } });
    expect(byAction('stream.deleted')[0]).toMatchObject({ target: { stream: 'scratch' } });
    expect(byAction('reducer.saved')).toHaveLength(1);
    expect(byAction('reducer.saved')[0]).toMatchObject({ actor: keyActor, address: '198.51.100.7', target: { stream: 'orders', reducer: 'count', version: 1, created: true } });
    expect(byAction('reducer.replayed')[0]).toMatchObject({ actor: ownerActor, target: { reducer: 'count', version: 2 } });
    expect(byAction('reducer.deleted')[0]).toMatchObject({ target: { reducer: 'count' } });
    expect(byAction('team.settings_changed').map((e) => e.target)).toEqual([{ changes: { name: 'Acme' } }, { changes: { autoCreateStreams: false } }]);
    expect(byAction('team.ownership_transferred')[0]).toMatchObject({ target: { to: { userId: admin.id, email: admin.email } } });
    expect(byAction('member.removed')[0]).toMatchObject({
      actor: adminActor,
      target: { userId: member.id, email: member.email, role: 'admin', revokedKeys: [{ key: memberKey.id, name: 'member key', prefix: memberKey.prefix }] },
    });
    for (const e of entries) expect(Date.parse(e.at)).toBeGreaterThan(Date.now() - 60_000);

    // Never a secret: no key, invite link or token, signature secret or signing secret.
    const text = JSON.stringify(entries);
    for (const secret of [manage.key, viaKey.key, memberKey.key, invited.url, new URL(invited.url).pathname.split('/').pop()!, signature.secret!, signingSecret]) {
      expect(text).not.toContain(secret);
    }

    // The log is the system stream `_audit`, made on first use.
    const stream = await db().stream.findUniqueOrThrow({ where: { id: streamIdFor(slug, '_audit') } });
    expect(stream).toMatchObject({ teamId: team.id, slug: '_audit', system: true, length: entries.length, publicRead: false, publicWrite: false, signatureScheme: null });
  }, 60_000);

  it('records a session ended in each of the person’s teams, and a left member', async () => {
    const { admin, owner, slug } = await world();
    const second = await db().$transaction((tx) => createTeam({ slug: uniqueSlug('t2'), ownerId: admin.id, db: tx }));
    const { session: laptop } = await createSession(admin.id, db(), { userAgent: 'Laptop browser', address: '192.0.2.44' });
    await createSession(admin.id);
    await admin.api.session.end({ id: sessionHandle(laptop.id) });
    const { ended } = await admin.api.session.endOthers();
    expect(ended).toBe(1);
    for (const team of [slug, second.slug]) {
      const entries = await log(admin.api, team, { action: 'session.ended' });
      expect(entries.map((e) => e.target).reverse()).toEqual([
        { userId: admin.id, session: sessionHandle(laptop.id), device: 'Laptop browser', address: '192.0.2.44', current: false },
        { userId: admin.id, count: 1, others: true },
      ]);
      expect(entries[0]).toMatchObject({ actor: { type: 'user', id: admin.id }, address: '203.0.113.2' });
    }
    await admin.api.member.leave({ team: slug });
    expect((await log(owner.api, slug, { action: 'member.left' }))[0]).toMatchObject({ actor: { id: admin.id }, target: { userId: admin.id, role: 'admin' } });
  });

  it('is listed and filtered by admins and manage keys, never by members', async () => {
    const { owner, admin, member, slug } = await world();
    expect(await code(member.api.audit.list({ team: slug, limit: 10 }))).toBe('FORBIDDEN');
    const manage = await admin.api.apiKey.create({ team: slug, name: 'deploy', scopes: ['manage'] });
    const script = await asKey(manage.key, '198.51.100.7');
    await script.apiKey.create({ team: slug, name: 'ci', scopes: ['read'] });
    await owner.api.stream.create({ team: slug, stream: 'orders' });
    await owner.api.apiKey.create({ team: slug, name: 'ops', scopes: ['read'] });
    expect(await code(member.api.audit.list({ team: slug, limit: 10 }))).toBe('FORBIDDEN');

    // By action; by actor: a person's email covers their keys' actions, a key's prefix only its own.
    expect((await log(script, slug, { action: 'key.created' })).map((e) => e.target.name)).toEqual(['ops', 'ci', 'deploy']);
    expect((await log(owner.api, slug, { actor: admin.email.toUpperCase() })).map((e) => e.target.name)).toEqual(['ci', 'deploy']);
    expect((await log(owner.api, slug, { actor: manage.prefix })).map((e) => e.target.name)).toEqual(['ci']);
    expect((await log(owner.api, slug, { actor: owner.email })).map((e) => e.action)).toEqual(['key.created', 'stream.created']);
    // By time, and a page at a time.
    expect(await owner.api.audit.list({ team: slug, until: new Date(Date.now() - 3_600_000), limit: 10 })).toMatchObject({ entries: [] });
    const first = await owner.api.audit.list({ team: slug, limit: 3 });
    expect(first.entries.map((e) => e.index)).toEqual([3, 2, 1]);
    const rest = await owner.api.audit.list({ team: slug, limit: 3, before: first.next! });
    expect(rest).toMatchObject({ entries: [{ index: 0, action: 'key.created' }], next: null });
    expect(await code(owner.api.audit.list({ team: slug, action: 'key.stolen' as 'key.created', limit: 10 }))).toBe('BAD_REQUEST');
  });

  it('cannot be created, changed, signed or deleted, and takes no append from anyone', async () => {
    const { owner, member, slug, team } = await world();
    await owner.api.apiKey.create({ team: slug, name: 'first', scopes: ['read'] });
    const id = streamIdFor(slug, '_audit');
    const before = await db().stream.findUniqueOrThrow({ where: { id } });

    const refused = await owner.api.stream.delete({ team: slug, stream: '_audit', confirm: '_audit' }).catch((e: TRPCError) => e);
    expect(refused).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('audit log') });
    expect(await code(owner.api.stream.update({ team: slug, stream: '_audit', publicRead: true }))).toBe('FORBIDDEN');
    expect(await code(owner.api.stream.update({ team: slug, stream: '_audit', name: 'mine now' }))).toBe('FORBIDDEN');
    expect(await code(owner.api.stream.setSignature({ team: slug, stream: '_audit', scheme: 'github' }))).toBe('FORBIDDEN');
    expect(await code(owner.api.stream.create({ team: slug, stream: '_audit' }))).toBe('BAD_REQUEST');
    // A key limited to the log may only read it.
    expect(await code(owner.api.apiKey.create({ team: slug, name: 'x', scopes: ['ingest'], stream: '_audit' }))).toBe('BAD_REQUEST');
    const logKey = await owner.api.apiKey.create({ team: slug, name: 'siem', scopes: ['read'], stream: '_audit' });
    // Nor can the admin CLI's create-key (ensureStream) find or make it to limit a key to.
    await expect(ensureStream({ teamId: team.id, teamSlug: slug, slug: '_audit', select: { id: true } })).rejects.toMatchObject({ code: 'bad_request' });
    const everything = await owner.api.apiKey.create({ team: slug, name: 'all', scopes: ['ingest', 'read', 'manage'] });

    // Appends: any key, a member's or the owner's session: 403, with the reason.
    for (const ask of [{ key: everything.key }, { key: logKey.key }, { userId: owner.id }, { userId: member.id }, {}]) {
      const error = await authorizeStream({ teamSlug: slug, streamSlug: '_audit', access: 'append', ...ask }).catch((e: Error) => e);
      expect(error).toMatchObject({ code: 'forbidden', message: expect.stringContaining('written by Pipet alone') });
    }
    // Reads: a read key (the team's or the log's own) and an admin's session; a member's session is refused.
    expect((await authorizeStream({ teamSlug: slug, streamSlug: '_audit', access: 'read', key: logKey.key })).stream?.id).toBe(id);
    expect((await authorizeStream({ teamSlug: slug, streamSlug: '_audit', access: 'read', userId: owner.id })).stream?.id).toBe(id);
    expect(await authorizeStream({ teamSlug: slug, streamSlug: '_audit', access: 'read', userId: member.id }).catch((e: Error) => e)).toMatchObject({ code: 'forbidden' });
    // Nor through a timer of a reducer on the log: the timer fails for good and appends nothing.
    const logLength = (await db().stream.findUniqueOrThrow({ where: { id } })).length;
    const timer = await fireTimer({ effectId: 'forged-entry', streamId: id, payload: { dueAt: new Date().toISOString(), event: { action: 'key.revoked' } }, db: db() });
    expect(timer).toMatchObject({ result: 'permanent', error: expect.stringContaining('system stream') });
    expect((await db().stream.findUniqueOrThrow({ where: { id } })).length).toBe(logLength);

    const after = await db().stream.findUniqueOrThrow({ where: { id } });
    expect(after).toMatchObject({ system: true, name: before.name, publicRead: false, publicWrite: false, signatureScheme: null, teamId: team.id });
    // Listed only when asked for, and marked.
    expect((await owner.api.stream.list({ team: slug })).map((s) => s.slug)).toEqual([]);
    expect((await owner.api.stream.list({ team: slug, includeSystem: true })).map((s) => [s.slug, s.system])).toEqual([['_audit', true]]);
    // It counts against no stream cap, and a failed action records nothing.
    const length = after.length;
    expect(await code(owner.api.apiKey.create({ team: slug, name: 'nowhere', scopes: ['read'], stream: 'missing' }))).toBe('NOT_FOUND');
    expect((await db().stream.findUniqueOrThrow({ where: { id } })).length).toBe(length);
  });

  it('can be reduced like any stream, by its admins', async () => {
    const { owner, member, slug } = await world();
    await owner.api.apiKey.create({ team: slug, name: 'first', scopes: ['read'] });
    await owner.api.reducer.upsert({ team: slug, stream: '_audit', name: 'by-action', code: '(s, e) => ({ ...s, [e.action]: (s[e.action] ?? 0) + 1 })', initialState: {} });
    expect(await code(member.api.reducer.get({ team: slug, stream: '_audit', name: 'by-action' }))).toBe('FORBIDDEN');
    await owner.api.apiKey.create({ team: slug, name: 'second', scopes: ['read'] });
    const id = streamIdFor(slug, '_audit');
    while ((await foldStream({ streamId: id })).more);
    const state = await readReducerState({ streamId: id, name: 'by-action' });
    expect(JSON.parse(state!.stateJson)).toEqual({ 'key.created': 2, 'reducer.saved': 1 });
  });
});
