// Signup-and-go in a real browser against the built server and a real worker: the landing page's
// playground, a stranger's path from sign-up to a reducer's state changing on their own POST
// (timed), and every main page in light, dark and at 375 px, with no page or console errors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';

const run = promisify(execFile);
const ownDb = await useOwnDatabase('journey');
const PASSWORD = 'correct horse battery';

describe('signup-and-go', () => {
  let web: Running;
  let worker: Running;
  let browser: Browser;
  let email: string;
  let team: string;
  const contexts: BrowserContext[] = [];

  async function open(options: { colorScheme?: 'light' | 'dark'; width?: number } = {}): Promise<{ page: Page; errors: string[] }> {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1280, height: 900 }, colorScheme: options.colorScheme ?? 'light' });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(30_000);
    return { page, errors: watchErrors(page) };
  }

  beforeAll(async () => {
    web = await startWeb({ ...ownDb.env, SSE_HEARTBEAT_MS: '300' });
    worker = startWorkerProcess({ ...ownDb.env, SWEEP_INTERVAL_MS: '1000' });
    browser = await launch();
  });
  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await worker?.stop();
    await web?.stop();
  });

  it('the landing playground: a click and the curl line both land in the tail and move the state', { timeout: 90_000 }, async () => {
    const { page, errors } = await open();
    await page.goto(`${web.url}/`);
    await page.getByRole('heading', { level: 1, name: 'An Array with a URL.' }).waitFor();
    const playground = page.getByTestId('playground');
    await playground.getByText('live', { exact: true }).first().waitFor();

    await playground.getByRole('button', { name: 'POST ship' }).click();
    await playground.getByTestId('playground-ack').getByText('201 Created · index 0').waitFor();
    await playground.getByTestId('live-tail').getByText('"button":"ship"').waitFor();
    await playground.getByTestId('playground-ship').filter({ hasText: /^1$/ }).waitFor();
    await playground.getByTestId('playground-total').filter({ hasText: /^1$/ }).waitFor();

    // The curl line names this server's real URL and works as printed.
    const curl = (await playground.getByTestId('playground-curl').textContent())!;
    expect(curl).toContain(`${web.url}/s/demo/playground`);
    await run('bash', ['-c', curl.replace('"button":"ship"', '"button":"like"')]);
    await playground.getByTestId('live-tail').getByText('"button":"like"').waitFor();
    await playground.getByTestId('playground-like').filter({ hasText: /^1$/ }).waitFor();
    await playground.getByTestId('playground-total').filter({ hasText: /^2$/ }).waitFor();
    await shoot(page, 'landing-light');

    // Keyboard: Tab reaches the header's links with a visible focus ring.
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    expect(errors).toEqual([]);
  });

  it('landing → sign-up → checklist → first event → a reducer whose state changes, in under 60 s', { timeout: 120_000 }, async () => {
    const { page, errors } = await open();
    email = `${uniqueSlug('stranger')}@example.com`;
    await page.goto(`${web.url}/`);
    await page.getByTestId('playground').getByText('live', { exact: true }).first().waitFor();
    await page.getByRole('navigation', { name: 'Site' }).getByRole('link', { name: 'Sign up' }).click();
    await page.getByRole('heading', { name: 'Create your account' }).waitFor();
    await page.waitForLoadState('networkidle');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);

    const started = Date.now();
    await page.getByRole('button', { name: 'Sign up' }).click();
    const checklist = page.getByTestId('first-run');
    await checklist.waitFor();
    team = new URL(page.url()).pathname.slice(1);
    await checklist.getByTestId('waiting-event').getByText('Waiting for your first event…').waitFor();
    await shoot(page, 'team-first-run-light');

    // 1. A key, shown once, lands in the curl line; 2. the curl line, run as printed.
    await checklist.getByRole('button', { name: 'Create an ingest key' }).click();
    const curlBlock = checklist.getByTestId('first-run-curl');
    await curlBlock.filter({ hasText: 'pk_' }).waitFor();
    const curl = (await curlBlock.textContent())!;
    expect(curl).toContain(`${web.url}/s/${team}/hello`);
    expect((await run('bash', ['-c', `${curl} --fail-with-body -sS`])).stdout).toContain('"index":0');
    await checklist.getByTestId('first-event').waitFor();
    expect(await checklist.getByTestId('step-key').getAttribute('data-done')).toBe('true');
    expect(await checklist.getByTestId('step-event').getAttribute('data-done')).toBe('true');
    await shoot(page, 'team-first-event-light');

    // 3. "Add a reducer" opens the editor on a counter; save it; a POST changes its state.
    await checklist.getByRole('link', { name: 'Add a counter reducer' }).click();
    await page.getByRole('heading', { name: 'New reducer count' }).waitFor();
    expect(await page.getByLabel('Reducer code').innerText()).toContain('(count, event) => count + 1');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Created count').waitFor();
    await page.getByTestId('live-state').filter({ hasText: /^1$/ }).waitFor();
    await run('bash', ['-c', `${curl} --fail-with-body -sS`]);
    await page.getByTestId('live-state').filter({ hasText: /^2$/ }).waitFor();
    const seconds = (Date.now() - started) / 1000;
    console.log(`sign-up click → reducer state changed by a POST: ${seconds.toFixed(1)} s`);
    expect(seconds).toBeLessThan(60);

    // The editor's shortcut: Ctrl-Enter runs the dry run (the table and the effects list).
    await page.getByLabel('Reducer code').click();
    await page.keyboard.press('Control+Enter');
    await page.getByTestId('dry-run').getByText('Effects it would record: none').waitFor();
    await page.getByTestId('dry-run-state').filter({ hasText: /^2$/ }).waitFor();
    await shoot(page, 'reducer-light');

    // 4. A recipe; then the checklist is done and gives way to the team page.
    await page.goto(`${web.url}/${team}`);
    await page.getByTestId('first-run-count').getByText('3 of 4 done').waitFor();
    await page.getByTestId('first-run').getByRole('link', { name: 'Pick a recipe' }).click();
    const card = page.getByTestId('recipe-form-submissions');
    await card.getByRole('button', { name: 'Install form-submissions' }).click();
    await card.getByRole('status').getByText('Installed').waitFor();
    await shoot(page, 'recipes-light');
    await page.goto(`${web.url}/${team}`);
    await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
    expect(await page.getByTestId('first-run').count()).toBe(0);
    await page.getByTestId('sparkline-hello').locator('svg').waitFor();
    expect(Number(await page.getByTestId('sparkline-hello').getAttribute('data-total'))).toBe(2);
    await shoot(page, 'team-light');
    expect(errors).toEqual([]);
  });

  it('stream page: sparkline, lag and fold rate, tail with pause, jump and filter, snippets, delete with type-to-confirm', { timeout: 90_000 }, async () => {
    const { page, errors } = await logIn(await open());
    // On the session cookie, as the app's own pages append: from the app's origin (a cookie write from any other origin is refused).
    const post = (body: unknown) => page.request.post(`${web.url}/s/${team}/hello`, { data: body, headers: { origin: web.url } });
    await page.goto(`${web.url}/${team}/streams/hello`);
    await page.getByRole('heading', { level: 1, name: 'hello' }).waitFor();
    await page.getByTestId('stream-sparkline').locator('svg').waitFor();
    expect(Number(await page.getByTestId('stream-sparkline').getAttribute('data-total'))).toBe(2);
    await page.getByTestId('reducer-lag').filter({ hasText: /^0$/ }).waitFor();
    for (const n of [1, 2, 3]) expect((await post({ type: 'click', n })).status()).toBe(201);
    const tail = page.getByTestId('live-tail');
    await tail.getByText('"n":3').waitFor();
    await page.getByTestId('stream-length').filter({ hasText: /^5$/ }).waitFor();
    await page.getByText(/fold rate \d/).first().waitFor();

    // Pause holds the list; new events are counted, not shown, until resumed.
    await page.getByRole('button', { name: 'Pause' }).click();
    expect((await post({ type: 'click', n: 4 })).status()).toBe(201);
    await page.getByText('1 new since').waitFor();
    expect(await tail.getByText('"n":4').count()).toBe(0);
    await page.getByRole('button', { name: 'Resume' }).click();
    await tail.getByText('"n":4').waitFor();
    // Filter on the loaded page, and jump to an index.
    await page.getByLabel('Filter events').fill('"n":2');
    await expect.poll(() => tail.locator('li').count()).toBe(1);
    await page.getByLabel('Filter events').fill('');
    await page.getByLabel('Jump to index').fill('0');
    await page.getByRole('button', { name: 'Go' }).click();
    await page.getByText('Showing from index 0').waitFor();
    await tail.getByText('#0', { exact: true }).waitFor();
    // Snippets name this stream's URL.
    await page.getByRole('tab', { name: 'fetch' }).click();
    expect(await page.getByTestId('snippet-fetch').textContent()).toContain(`${web.url}/s/${team}/hello`);
    await page.getByRole('tab', { name: 'HTML form' }).click();
    expect(await page.getByTestId('snippet-form').textContent()).toContain(`action="${web.url}/s/${team}/hello?key=`);
    await page.getByRole('tab', { name: 'Segment SDKs' }).click();
    expect(await page.getByTestId('snippet-segment').textContent()).toContain(`cdnURL: '${web.url}'`);
    await shoot(page, 'stream-light');

    // Delete: the button stays disabled until the name is typed; then the stream is gone.
    await page.getByRole('button', { name: 'Delete stream…' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByLabel('Stream name to confirm').fill('hell');
    expect(await dialog.getByRole('button', { name: 'Delete stream' }).isDisabled()).toBe(true);
    await shoot(page, 'stream-delete-light');
    await dialog.getByLabel('Stream name to confirm').fill('hello');
    await dialog.getByRole('button', { name: 'Delete stream' }).click();
    await page.waitForURL(`${web.url}/${team}`);
    expect(await page.getByRole('link', { name: `/s/${team}/hello` }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it('every main page in dark mode and on a 375 px phone, with no page or console error', { timeout: 150_000 }, async () => {
    const pages = ['', '/docs', '/docs/reducers', '/login', '/signup', `/${team}`, `/${team}/streams/form`, `/${team}/streams/form/reducers/submissions`, `/${team}/effects`, `/${team}/recipes`];
    const names = ['landing', 'docs', 'docs-reducers', 'login', 'signup', 'team', 'stream', 'reducer', 'effects', 'recipes'];
    for (const setting of [
      { colorScheme: 'dark' as const, width: 1280, suffix: 'dark' },
      { colorScheme: 'light' as const, width: 375, suffix: 'phone-light' },
      { colorScheme: 'dark' as const, width: 375, suffix: 'phone-dark' },
    ]) {
      const anonymous = await open(setting);
      const signedIn = await logIn(await open(setting));
      for (const [i, path] of pages.entries()) {
        const { page } = ['', '/login', '/signup'].includes(path) ? anonymous : signedIn;
        await page.goto(`${web.url}${path}`);
        await page.locator('h1').first().waitFor();
        await page.waitForTimeout(300);
        if (setting.colorScheme === 'dark') {
          // Whatever colour space the style is in (Tailwind 4 uses oklch), a canvas gives its RGB.
          const [r, g, b] = await page.evaluate(() => {
            const ctx = document.createElement('canvas').getContext('2d')!;
            ctx.fillStyle = getComputedStyle(document.body).backgroundColor;
            ctx.fillRect(0, 0, 1, 1);
            return [...ctx.getImageData(0, 0, 1, 1).data];
          });
          expect(r + g + b, `${path} has a dark background`).toBeLessThan(120);
        }
        if (setting.width === 375) {
          expect(await page.evaluate(() => document.documentElement.scrollWidth), `${path} fits 375 px`).toBeLessThanOrEqual(375);
        }
        await shoot(page, `${names[i]}-${setting.suffix}`);
      }
      expect(anonymous.errors).toEqual([]);
      expect(signedIn.errors).toEqual([]);
    }
  });

  async function logIn(opened: { page: Page; errors: string[] }) {
    const { page } = opened;
    await page.goto(`${web.url}/login`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(`${web.url}/${team}`);
    return opened;
  }
});
