// Two-factor authentication in a real browser (Debian's chromium through playwright-core) against
// the built server: sign up, open the account page from the header, set up two-factor from the QR
// code's key (the code computed here from the key the page shows), keep the recovery codes, log
// out, log in again with password then code, and end the other session from the sessions list.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { generateHOTP, generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, type Running } from '../helpers/server.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';

const SECRETS_KEY = randomBytes(32).toString('base64');
const own = await useOwnDatabase('two-factor-browser');
const { db } = await import('../../src/lib/server/db/client.ts');

/** The code an authenticator app shows now, for the key as the page spells it (groups of four). */
function totp(shownKey: string): string {
  return generateTOTP(decodeBase32IgnorePadding(shownKey.replace(/\s/g, '')), 30, 6);
}

/** The code the app shows in the next 30 s period (taken early, as a clock a little ahead would): a code is taken only once. */
function nextTotp(shownKey: string): string {
  return generateHOTP(decodeBase32IgnorePadding(shownKey.replace(/\s/g, '')), BigInt(Math.floor(Date.now() / 30_000) + 1), 6);
}

describe('two-factor authentication in a browser', () => {
  let web: Running;
  let browser: Browser;
  beforeAll(async () => {
    web = await startWeb({ ...own.env, SECRETS_KEY });
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
  });

  it('set up from the account page, then log in with password and TOTP', { timeout: 120_000 }, async () => {
    const email = `${uniqueSlug('ada')}@example.com`;
    const password = 'correct horse battery';
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const errors = watchErrors(page);

    await page.goto(`${web.url}/signup`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
    const teamPath = new URL(page.url()).pathname;

    // The header's link to the account page (at 375 px, a button-styled link).
    await page.getByRole('link', { name: 'Account', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Account' }).waitFor();
    await page.waitForLoadState('networkidle');
    await expect(page.getByTestId('two-factor-status').innerText()).resolves.toBe('Off');
    await expect(page.getByTestId('session').count()).resolves.toBe(1);
    await expect(page.getByTestId('session').innerText()).resolves.toContain('This device');

    await page.getByRole('button', { name: 'Set up two-factor authentication' }).click();
    await page.getByTestId('totp-qr').locator('svg').waitFor();
    await page.getByText('Can’t scan it? Type the key instead').click();
    const shownKey = await page.getByTestId('totp-key').innerText();
    expect(shownKey.replace(/\s/g, '')).toMatch(/^[A-Z2-7]{32}$/);
    expect(await page.getByTestId('totp-uri').getAttribute('href')).toContain(`secret=${shownKey.replace(/\s/g, '')}`);
    await shoot(page, 'pipet-two-factor-setup-phone');

    // A wrong code first: said so, nothing changes.
    await page.getByLabel('Enter the 6-digit code the app shows').fill('000000');
    await page.getByRole('button', { name: 'Turn on two-factor' }).click();
    await page.getByText('That code does not match').waitFor();
    await page.getByLabel('Enter the 6-digit code the app shows').fill(totp(shownKey));
    await page.getByRole('button', { name: 'Turn on two-factor' }).click();
    const codes = page.getByTestId('recovery-codes');
    await codes.waitFor();
    await expect(codes.locator('li').count()).resolves.toBe(10);
    await page.getByTestId('two-factor-status').getByText('On', { exact: true }).waitFor();
    await shoot(page, 'pipet-two-factor-recovery-codes-phone');
    await page.getByRole('button', { name: 'I saved them' }).click();
    await expect(page.getByTestId('recovery-codes-left').innerText()).resolves.toBe('10');

    // Log out, and back in: the password is not enough.
    await page.goto(`${web.url}/logout`);
    await page.getByRole('button', { name: 'Log out of this browser' }).click();
    await page.waitForURL(/\/login$/);
    await page.goto(`${web.url}${teamPath}`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Two-factor authentication' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login/two-factor');
    await shoot(page, 'pipet-two-factor-login-phone');
    await page.getByLabel('Authentication code').fill('123456');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText('That code is not right').waitFor();
    await page.getByLabel('Authentication code').fill(nextTotp(shownKey));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(`${web.url}${teamPath}`);
    await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();

    // Another browser signs in too; this one ends it from the sessions list.
    const other = await browser.newContext();
    const otherPage = await other.newPage();
    await otherPage.goto(`${web.url}/login`, { waitUntil: 'networkidle' });
    await otherPage.getByLabel('Email').fill(email);
    await otherPage.getByLabel('Password').fill(password);
    await otherPage.getByRole('button', { name: 'Log in' }).click();
    await otherPage.getByLabel('Authentication code').waitFor();
    const user = await db().user.findUniqueOrThrow({ where: { email }, select: { id: true } });
    expect(await db().session.count({ where: { userId: user.id } })).toBe(2);

    await page.goto(`${web.url}/account`, { waitUntil: 'networkidle' });
    await expect(page.getByTestId('session').count()).resolves.toBe(2);
    await page.getByRole('button', { name: 'End all other sessions' }).click();
    await page.getByRole('button', { name: 'End other sessions' }).click();
    await expect.poll(() => page.getByTestId('session').count()).toBe(1);
    expect(await db().session.count({ where: { userId: user.id } })).toBe(1);
    await otherPage.reload();
    await otherPage.waitForURL(/\/login$/);
    await other.close();

    // Now with two-factor on, the owner requires it of the team from the team page.
    await page.goto(`${web.url}${teamPath}`, { waitUntil: 'networkidle' });
    await page.getByLabel('Require two-factor authentication of every member').check();
    await expect.poll(async () => (await db().team.findFirstOrThrow({ where: { accountId: user.id } })).requireTwoFactor).toBe(true);
    await page.reload({ waitUntil: 'networkidle' });
    expect(await page.getByLabel('Require two-factor authentication of every member').isChecked()).toBe(true);

    // The one wrong code sent to twoFactor.enable is a 400 the browser logs; nothing else went wrong.
    expect(errors.filter((e) => !/status of 400/.test(e))).toEqual([]);
    expect(errors.filter((e) => /status of 400/.test(e))).toHaveLength(1);
    await context.close();
  });
});
