// Your sessions through the management API: the device, address and last use recorded (at most a
// write a minute), listed with "this device", one ended or all others; never someone else's.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TRPCError } from '@trpc/server';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';

await useOwnDatabase('sessions');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { createContext } = await import('../../src/lib/server/trpc/context.ts');
const { createUser } = await import('../../src/lib/server/auth/create-user.ts');
const sessions = await import('../../src/lib/server/auth/sessions.ts');

const FIREFOX = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0';
const PHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

afterEach(() => vi.useRealTimers());

async function person() {
  const { user } = await createUser({ email: `${uniqueSlug('ada')}@example.com`, password: 'correct horse battery', db: db() });
  const signIn = async (userAgent: string, address: string) => {
    const { token } = await sessions.createSession(user.id, db(), { userAgent, address });
    const api = async () => {
      const v = await sessions.validateSessionToken(token, db());
      return createCaller(await createContext({ user: v.user, session: v.session, db: db() }));
    };
    return { token, api };
  };
  return { user, signIn };
}

describe('sessions', () => {
  it('records the device (trimmed), the address and the last use, at most once a minute', async () => {
    const p = await person();
    const laptop = await p.signIn(`  ${FIREFOX}\n${'x'.repeat(400)}`, '203.0.113.7');
    const row = await db().session.findFirstOrThrow({ where: { userId: p.user.id } });
    expect(row.userAgent!.length).toBeLessThanOrEqual(256);
    expect(row.userAgent!.startsWith(FIREFOX)).toBe(true);
    expect(row.address).toBe('203.0.113.7');
    const created = row.lastSeenAt.getTime();

    vi.useFakeTimers({ toFake: ['Date'] });
    // Used again 30 s later from elsewhere: nothing written yet.
    vi.setSystemTime(created + 30_000);
    await sessions.validateSessionToken(laptop.token, db(), { userAgent: FIREFOX, address: '198.51.100.9' });
    expect(await db().session.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ lastSeenAt: new Date(created), address: '203.0.113.7' });
    // A minute after the last record: the use is recorded, with where it came from.
    vi.setSystemTime(created + 61_000);
    await sessions.validateSessionToken(laptop.token, db(), { userAgent: FIREFOX, address: '198.51.100.9' });
    expect(await db().session.findUniqueOrThrow({ where: { id: row.id } })).toMatchObject({ lastSeenAt: new Date(created + 61_000), address: '198.51.100.9' });
  });

  it('are listed with this device marked, and one or all others can be ended', async () => {
    const p = await person();
    const laptop = await p.signIn(FIREFOX, '203.0.113.7');
    const phone = await p.signIn(PHONE, '198.51.100.9');
    const tablet = await p.signIn(PHONE, '192.0.2.1');
    const api = await laptop.api();
    const list = await api.session.list();
    expect(list).toHaveLength(3);
    expect(list.filter((s) => s.current).map((s) => s.userAgent)).toEqual([FIREFOX]);
    // Named by a handle, not by the id the database keys them by (the token's hash).
    const ids = new Set((await db().session.findMany({ where: { userId: p.user.id } })).map((s) => s.id));
    for (const s of list) expect(ids.has(s.id)).toBe(false);

    const phoneRow = list.find((s) => s.address === '198.51.100.9')!;
    expect(await api.session.end({ id: phoneRow.id })).toEqual({ ended: 1, current: false });
    expect((await sessions.validateSessionToken(phone.token, db())).session).toBeNull();
    await expect(api.session.end({ id: phoneRow.id })).rejects.toMatchObject({ code: 'NOT_FOUND' });

    expect(await api.session.endOthers()).toEqual({ ended: 1 });
    expect((await sessions.validateSessionToken(tablet.token, db())).session).toBeNull();
    expect((await sessions.validateSessionToken(laptop.token, db())).session).not.toBeNull();
    expect((await api.session.list()).map((s) => s.current)).toEqual([true]);
  });

  it("never ends, or shows, another person's session", async () => {
    const ada = await person();
    const eve = await person();
    const adaLaptop = await ada.signIn(FIREFOX, '203.0.113.7');
    const eveApi = await (await eve.signIn(PHONE, '198.51.100.9')).api();
    const adaHandle = (await (await adaLaptop.api()).session.list())[0].id;
    const adaRowId = (await db().session.findFirstOrThrow({ where: { userId: ada.user.id } })).id;

    // Eve knows Ada's handle, or even the database id: both look like sessions that do not exist.
    for (const id of [adaHandle, adaRowId.slice(0, 32)]) {
      const refused = await eveApi.session.end({ id }).catch((e: TRPCError) => e);
      expect(refused).toMatchObject({ code: 'NOT_FOUND' });
    }
    await expect(eveApi.session.end({ id: adaRowId })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await eveApi.session.endOthers()).toEqual({ ended: 0 });
    expect((await eveApi.session.list()).map((s) => s.address)).toEqual(['198.51.100.9']);
    expect((await sessions.validateSessionToken(adaLaptop.token, db())).session).not.toBeNull();
  });
});
