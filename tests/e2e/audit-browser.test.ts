// The audit log against the built server (issue 19): actions over /api/trpc are recorded with the
// request's real address; the log is an Array at /s/{team}/_audit, read and tailed with a read key,
// appended to by nobody; an admin filters it in a real browser (light, dark, 375 px), a member cannot.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import superjson from 'superjson';
import type { AppRouter } from '../../src/lib/server/trpc/root.ts';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { bearer, expectError, postJson, readSse } from '../helpers/http.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';

const ownDb = await useOwnDatabase('audit_browser');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createTeam } = await import('../../src/lib/server/teams/create-team.ts');
const { createSession } = await import('../../src/lib/server/auth/sessions.ts');

describe('the audit log over HTTP and in the browser', () => {
  let web: Running;
  let browser: Browser;
  const team = uniqueSlug('audit');
  const people: Record<'owner' | 'member', { id: string; email: string; token: string }> = {} as never;

  async function signedIn(who: 'owner' | 'member', options: { colorScheme?: 'light' | 'dark'; width?: number } = {}): Promise<BrowserContext> {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
    await context.addCookies([{ name: 'pipet_session', value: people[who].token, url: web.url }]);
    return context;
  }
  const api = (headers: Record<string, string>) => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: `${web.url}/api/trpc`, transformer: superjson, headers: () => headers })] });
  const cookie = (who: 'owner' | 'member') => ({ cookie: `pipet_session=${people[who].token}`, origin: web.url });

  beforeAll(async () => {
    web = await startWeb({ ...ownDb.env, SSE_HEARTBEAT_MS: '300' });
    browser = await launch();
    for (const who of ['owner', 'member'] as const) {
      const user = await db().user.create({ data: { email: `${uniqueSlug(who)}@example.com`, passwordHash: null, emailVerifiedAt: new Date() }, select: { id: true, email: true } });
      people[who] = { ...user, token: (await createSession(user.id)).token };
    }
    const created = await db().$transaction((tx) => createTeam({ slug: team, name: 'Audit Co', ownerId: people.owner.id, db: tx }));
    await db().membership.create({ data: { teamId: created.id, userId: people.member.id, role: 'member' } });
  });
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
  });

  it('is an Array with a URL: read and tailed with a read key, appended to by nobody', { timeout: 60_000 }, async () => {
    const owner = api(cookie('owner'));
    const read = await owner.apiKey.create.mutate({ team, name: 'siem', scopes: ['read'] });
    const all = await owner.apiKey.create.mutate({ team, name: 'everything', scopes: ['ingest', 'read', 'manage'] });
    const log = `${web.url}/s/${team}/_audit`;

    // Read: a slice and one element, with the request's own address recorded.
    const slice = await fetch(log, { headers: bearer(read.key) });
    expect(slice.status).toBe(200);
    const entries = (await slice.json()) as { action: string; actor: { email: string }; address: string; target: { name: string } }[];
    expect(entries.map((e) => [e.action, e.target.name])).toEqual([
      ['key.created', 'siem'],
      ['key.created', 'everything'],
    ]);
    expect(entries[0].actor.email).toBe(people.owner.email);
    expect(entries[0].address).toMatch(/^(127\.0\.0\.1|::1|::ffff:127\.0\.0\.1)$/);
    expect(JSON.stringify(entries)).not.toContain(read.key);

    // Tail: the next action arrives over Server-Sent Events.
    const tail = await readSse(`${log}/events`, {
      headers: bearer(read.key),
      count: 1,
      onOpen: async () => void (await api(bearer(all.key)).stream.create.mutate({ team, stream: 'orders' })),
    });
    expect(tail.res.status).toBe(200);
    expect(JSON.parse(tail.events[0].data).body).toMatchObject({ action: 'stream.created', actor: { type: 'key', prefix: all.prefix, createdBy: { email: people.owner.email } }, target: { stream: 'orders' } });

    // Append: any key, the owner's session from Pipet's own origin, anyone at all — 403, nothing stored.
    for (const headers of [bearer(all.key), bearer(read.key), cookie('owner'), cookie('member'), {}]) {
      const error = await expectError(await postJson(log, { action: 'key.revoked', forged: true }, headers), 403);
      expect(error.message).toContain('written by Pipet alone');
    }
    expect((await expectError(await postJson(`${log}/batch`, [{ forged: true }], bearer(all.key)), 403)).message).toContain('audit log');
    // Nor made public, so that anonymous appends or reads could start.
    await expect(owner.stream.update.mutate({ team, stream: '_audit', publicWrite: true })).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
    expect((await fetch(`${log}/length`, { headers: bearer(read.key) }).then((r) => r.text())).trim()).toBe('3');
    // A member reads the team's streams with their session, but not its audit log.
    await expectError(await fetch(log, { headers: cookie('member') }), 403);
  });

  it('an admin filters it in the browser, on a phone and in the dark; a member has no way in', { timeout: 90_000 }, async () => {
    const context = await signedIn('owner');
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(`${web.url}/${team}`, { waitUntil: 'networkidle' });
    // The team's streams list the log, marked; the nav leads to its page.
    await page.getByText('audit log · system').waitFor();
    await page.getByRole('navigation', { name: 'Team' }).getByRole('link', { name: 'Audit log' }).click();
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    const rows = page.getByTestId('audit-entry');
    expect(await rows.count()).toBe(3);
    expect(await rows.first().innerText()).toContain('stream.created');

    await page.getByLabel('Action').selectOption('key.created');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/action=key\.created/);
    expect(await rows.count()).toBe(2);
    expect(await rows.allInnerTexts()).toEqual([expect.stringContaining('“everything”'), expect.stringContaining('“siem”')]);
    await page.getByLabel('Actor').fill('pk_nobody');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByTestId('audit-empty').getByText('No entries match').waitFor();
    await shoot(page, 'audit-log');
    expect(errors).toEqual([]);
    await context.close();

    for (const setting of [{ colorScheme: 'dark' as const, width: 1280 }, { colorScheme: 'light' as const, width: 375 }, { colorScheme: 'dark' as const, width: 375 }]) {
      const opened = await signedIn('owner', setting);
      const p = await opened.newPage();
      await p.goto(`${web.url}/${team}/audit`, { waitUntil: 'networkidle' });
      await p.getByTestId('audit-entry').first().waitFor();
      expect(await p.evaluate(() => document.documentElement.scrollWidth), 'fits its viewport').toBeLessThanOrEqual(setting.width);
      if (setting.colorScheme === 'dark') {
        const [r, g, b] = await p.evaluate(() => {
          const ctx = document.createElement('canvas').getContext('2d')!;
          ctx.fillStyle = getComputedStyle(document.body).backgroundColor;
          ctx.fillRect(0, 0, 1, 1);
          return [...ctx.getImageData(0, 0, 1, 1).data];
        });
        expect(r + g + b).toBeLessThan(120);
      }
      await shoot(p, `audit-log-${setting.colorScheme}-${setting.width}`);
      await opened.close();
    }

    const memberContext = await signedIn('member');
    const memberPage = await memberContext.newPage();
    await memberPage.goto(`${web.url}/${team}`, { waitUntil: 'networkidle' });
    expect(await memberPage.getByRole('link', { name: 'Audit log' }).count()).toBe(0);
    expect(await memberPage.getByText('audit log · system').count()).toBe(0);
    const refused = await memberPage.goto(`${web.url}/${team}/audit`);
    expect(refused?.status()).toBe(403);
    await memberContext.close();
  });
});
