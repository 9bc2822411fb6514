// Account recovery in a real browser against the built server and a real SMTP server on loopback:
// sign up → verify with the emailed code → log out → "Forgot password?" → the emailed link → a new
// password (every other session ends) → log in with it. And an invite opened by the wrong account
// says whom it is for, with nothing to accept.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';
import { codeIn, decoded, resetLinkIn, waitForMail } from '../helpers/account-mail.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';

const own = await useOwnDatabase('recovery');
const { db } = await import('../../src/lib/server/db/client.ts');

describe('account recovery in a browser', () => {
  let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
  let web: Running;
  let browser: Browser;

  beforeAll(async () => {
    smtp = await startSmtpCapture();
    web = await startWeb({ ...own.env, SMTP_URL: smtp.url });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    await smtp?.close();
  });

  async function context(options: { colorScheme?: 'light' | 'dark'; width?: number } = {}): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
    const ctx = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
    const page = await ctx.newPage();
    page.setDefaultTimeout(20_000);
    return { context: ctx, page, errors: watchErrors(page) };
  }

  async function signUp(page: Page, email: string, password: string): Promise<string> {
    await page.goto(`${web.url}/signup`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
    return new URL(page.url()).pathname;
  }

  it('sign up → verify by the emailed code → log out → reset by the emailed link → log in', { timeout: 120_000 }, async () => {
    const email = `${uniqueSlug('ada')}@example.com`;
    const { page, errors } = await context();
    const teamPath = await signUp(page, email, 'correct horse battery');

    // The code arrives over SMTP; its link opens the verification page with the code filled in.
    const verification = await waitForMail(smtp.mails, email);
    const code = codeIn(verification);
    const link = /https?:\/\/\S+\/verify\?code=[A-Z2-7]{8}/.exec(decoded(verification))![0];
    expect(new URL(link).origin).toBe(web.url);
    await page.goto(link, { waitUntil: 'networkidle' });
    await expect.poll(() => page.getByLabel('Verification code').inputValue()).toBe(code);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${web.url}${teamPath}`);
    expect((await db().user.findUniqueOrThrow({ where: { email } })).emailVerifiedAt).toBeInstanceOf(Date);
    await page.goto(`${web.url}/verify`, { waitUntil: 'networkidle' });
    await page.getByText(`${email} is verified.`).waitFor();

    // Another device stays signed in, until the reset.
    const other = await context();
    await other.page.goto(`${web.url}/login`, { waitUntil: 'networkidle' });
    await other.page.getByLabel('Email').fill(email);
    await other.page.getByLabel('Password').fill('correct horse battery');
    await other.page.getByRole('button', { name: 'Log in' }).click();
    await other.page.waitForURL(`${web.url}${teamPath}`);

    await page.goto(`${web.url}/logout`, { waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Log out of this browser' }).click();
    await page.waitForURL(`${web.url}/login`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await page.waitForURL(`${web.url}/reset`);
    await page.getByLabel('Email').fill(email);
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText('If an account uses this address, we sent it a link').waitFor();

    const resetLink = resetLinkIn(await waitForMail(smtp.mails, email, { skip: 1 }));
    await page.goto(resetLink, { waitUntil: 'networkidle' });
    await page.getByText(`For ${email}.`).waitFor();
    await page.getByLabel('New password').fill('a much better password');
    await page.getByRole('button', { name: 'Save the new password' }).click();
    // Signed in afresh, here only.
    await page.waitForURL(`${web.url}${teamPath}`);
    await other.page.goto(`${web.url}${teamPath}`);
    await other.page.waitForURL(/\/login\?redirectTo=/);

    // The link worked once.
    await page.goto(resetLink, { waitUntil: 'networkidle' });
    await page.getByRole('heading', { name: 'This link no longer works' }).waitFor();

    await page.goto(`${web.url}/logout`, { waitUntil: 'networkidle' });
    await page.getByRole('button', { name: 'Log out of this browser' }).click();
    await page.waitForURL(`${web.url}/login`);
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByText('Incorrect email or password.').waitFor();
    await page.getByLabel('Password').fill('a much better password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${web.url}${teamPath}`);
    expect(errors).toEqual([]);
    await other.context.close();
  });

  it('an invite opened by another account names its address, masked, and offers nothing to accept', { timeout: 60_000 }, async () => {
    const { page: owner } = await context();
    const teamPath = await signUp(owner, `${uniqueSlug('owner')}@example.com`, 'correct horse battery');
    const bossEmail = `${uniqueSlug('boss')}@example.com`;
    // Through the management API, as the team page does, with the session cookie.
    const invite = await owner.evaluate(
      async ([team, email]) => {
        const res = await fetch('/api/trpc/invite.create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ json: { team, email, role: 'admin' } }) });
        return (await res.json()).result.data.json as { url: string };
      },
      [teamPath.slice(1), bossEmail],
    );

    for (const setting of [{ colorScheme: 'light' as const, width: 1280 }, { colorScheme: 'dark' as const, width: 375 }]) {
      const { page, errors } = await context(setting);
      await signUp(page, `${uniqueSlug('evil')}@example.com`, 'correct horse battery');
      await page.goto(invite.url, { waitUntil: 'networkidle' });
      await page.getByText(`This invite is for ${bossEmail[0]}…@… — sign in as that address to accept it.`).waitFor();
      expect(await page.getByRole('button', { name: /Accept/ }).count()).toBe(0);
      expect(await page.content()).not.toContain(bossEmail);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(setting.width);
      await shoot(page, `invite-other-account-${setting.colorScheme}-${setting.width}`);
      expect(errors).toEqual([]);
    }
  });

  it('the account page verifies the address and changes it, switching only once the new code is entered', { timeout: 90_000 }, async () => {
    const email = `${uniqueSlug('gus')}@example.com`;
    const moved = `${uniqueSlug('gus-new')}@example.com`;
    const { page, errors } = await context({ colorScheme: 'dark', width: 375 });
    await signUp(page, email, 'correct horse battery');
    await page.goto(`${web.url}/account`, { waitUntil: 'networkidle' });
    const section = page.getByRole('region', { name: 'Email address' });
    await section.getByText('not verified').waitFor();
    await section.getByLabel('Verification code').fill(codeIn(await waitForMail(smtp.mails, email)));
    await section.getByRole('button', { name: 'Verify', exact: true }).click();
    await section.getByText(`${email} is verified.`).waitFor();

    await section.getByRole('button', { name: 'Change email address…' }).click();
    await section.getByLabel('New email address').fill(moved);
    await section.getByLabel('Current password').fill('correct horse battery');
    await section.getByRole('button', { name: 'Send a code to the new address' }).click();
    await section.getByText(`Enter the code we sent to ${moved} to switch to it.`).waitFor();
    // Still the old address until the code is in.
    expect((await db().user.findUniqueOrThrow({ where: { email } })).emailVerifiedAt).toBeInstanceOf(Date);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    await shoot(page, 'account-email-change-dark-375');
    await section.getByLabel('Verification code').fill(codeIn(await waitForMail(smtp.mails, moved)));
    await section.getByRole('button', { name: 'Verify', exact: true }).click();
    await section.getByText(`${moved} is verified.`).waitFor();
    expect(await db().user.findUnique({ where: { email } })).toBeNull();
    expect((await db().user.findUniqueOrThrow({ where: { email: moved } })).emailVerifiedAt).toBeInstanceOf(Date);
    expect(errors).toEqual([]);
  });

  it('the verification and reset pages fit a phone in dark mode', { timeout: 60_000 }, async () => {
    const { page, errors } = await context({ colorScheme: 'dark', width: 375 });
    await signUp(page, `${uniqueSlug('phone')}@example.com`, 'correct horse battery');
    for (const [path, name] of [['/verify', 'verify'], ['/reset', 'reset']] as const) {
      await page.goto(`${web.url}${path}`, { waitUntil: 'networkidle' });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await shoot(page, `account-${name}-dark-375`);
    }
    expect(errors).toEqual([]);
  });
});
