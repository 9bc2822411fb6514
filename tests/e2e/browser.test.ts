// The web app in a real browser (Debian's chromium through playwright-core) against the built
// server and a real worker: sign up, create a stream and a key, write a reducer, test it, save it,
// and watch its state change live as events are POSTed.
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';
import { launch, SHOTS } from './browser-kit.ts';

// At the top level, so its clean-up (dropping the database and the Redis keys) is registered.
const ownDb = await useOwnDatabase('browser');

// .ci/run installs Debian's chromium; without it this fails loudly rather than skipping.
describe('the web app in a browser', () => {
  let web: Running;
  let worker: Running;
  let browser: Browser;
  let page: Page;
  let team: string;
  let append: (body: unknown) => Promise<Response>;

  beforeAll(async () => {
    web = await startWeb({ ...ownDb.env, SSE_HEARTBEAT_MS: '300' });
    // One delivery attempt, so a webhook to a closed port fails at once and can be retried by hand.
    worker = startWorkerProcess({ ...ownDb.env, SWEEP_INTERVAL_MS: '1000', RETRY_SCHEDULE: '0', ALLOW_PRIVATE_WEBHOOKS: 'true' });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000);
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await web?.stop();
  });

  it('sign up → stream and key → write, test and save a reducer → its state updates live', { timeout: 120_000 }, async () => {
    const email = `${uniqueSlug('ada')}@example.com`;
    // networkidle: interact only once the page has hydrated, as a person would after it appears.
    await page.goto(`${web.url}/signup`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    try {
      await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
    } catch (error) {
      await page.screenshot({ path: `${SHOTS}/pipet-signup-failed.png` });
      throw new Error(`No team page after sign-up: at ${page.url()}\n${(await page.locator('body').innerText()).slice(0, 1500)}\n${web.output().slice(-3000)}`, { cause: error });
    }
    team = new URL(page.url()).pathname.slice(1);
    expect(team).toMatch(/^ada-/);

    // A stream and an ingest key, through the team page.
    await page.getByLabel('Stream name').fill('clicks');
    await page.getByRole('button', { name: 'Create stream' }).click();
    const streamLink = page.getByRole('link', { name: `/s/${team}/clicks` });
    await streamLink.waitFor();
    await page.getByLabel('Key name').fill('browser test');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.locator('.secret code').textContent())!.trim();
    expect(key).toMatch(/^pk_/);
    append = (body: unknown) => postJson(`${web.url}/s/${team}/clicks`, body, bearer(key));
    expect((await append({ type: 'view' })).status).toBe(201);

    // The stream page: its live tail shows the element; a new reducer from there.
    await streamLink.click();
    await page.getByRole('heading', { level: 1, name: 'clicks' }).waitFor();
    await page.getByTestId('live-tail').getByText('"type":"view"').waitFor();
    await page.getByLabel('New reducer name').fill('count');
    await page.getByRole('button', { name: 'New reducer' }).click();
    await page.getByRole('heading', { name: 'New reducer count' }).waitFor();

    // Write a counter of clicks (Tab indents the line inside the editor) and test it on the stream's events.
    const editor = page.getByLabel('Reducer code');
    await editor.fill("(count, event) => {\nreturn event.type === 'click' ? count + 1 : count;\n}");
    await editor.getByText('return event.type').click();
    await editor.press('Home');
    await editor.press('Tab');
    expect(await editor.innerText()).toBe("(count, event) => {\n  return event.type === 'click' ? count + 1 : count;\n}");
    await page.getByLabel('Initial state').fill('0');
    await page.getByRole('button', { name: 'Test against recent events' }).click();
    const dry = page.getByTestId('dry-run');
    await dry.getByText('"type":"view"').waitFor();
    expect(await page.getByTestId('dry-run-state').textContent()).toBe('0');
    // One state: no key column and no list of keys.
    expect(await dry.getByRole('columnheader').allTextContents()).toEqual(['#', 'event', 'state after']);
    expect(await dry.getByTestId('dry-run-keys').count()).toBe(0);
    await dry.getByText('Effects it would record: none').waitFor();

    // Code that throws shows the error and the index it stopped at.
    await editor.fill('(count, event) => { throw new Error("nope") }');
    await page.getByRole('button', { name: 'Test against recent events' }).click();
    await dry.getByRole('alert').getByText('nope').waitFor();
    expect(await dry.getByRole('alert').textContent()).toContain('Stopped at event 0');
    // Code that does not compile is marked at its line, on a dry run and when saving is refused.
    await editor.fill('(count, event) => {\n  return count +;\n}');
    await page.getByRole('button', { name: 'Test against recent events' }).click();
    await dry.getByRole('alert').getByText('SyntaxError').waitFor();
    await page.locator('.cm-lintRange-error').waitFor();
    expect(await page.locator('.cm-lint-marker-error').count()).toBe(1);
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').getByText('does not compile').waitFor();
    await page.locator('.cm-lintRange-error').waitFor();
    await editor.fill("(count, event) => event.type === 'click' ? count + 1 : count");

    // Save; the live state appears, then follows two POSTed clicks.
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Created count').waitFor();
    await page.getByTestId('live-state').filter({ hasText: /^0$/ }).waitFor();
    expect((await append({ type: 'click' })).status).toBe(201);
    expect((await append({ type: 'click' })).status).toBe(201);
    await page.getByTestId('live-state').filter({ hasText: /^2$/ }).waitFor();
    await page.getByText('3 events folded').waitFor();
    await page.getByTestId('reducer-status').getByText('3 / 3 folded').waitFor();

    // New code that throws on some events, continuing from here: it stops with the error and index;
    // Skip goes on from the next event.
    await editor.fill("(count, event) => { if (event.boom) throw new Error('boom'); return event.type === 'click' ? count + 1 : count; }");
    await page.getByLabel('continue from here').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Saved v2, continuing from here').waitFor();
    expect((await append({ boom: true })).status).toBe(201);
    await page.getByRole('heading', { name: 'Stopped at event 3' }).waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-reducer-errored.png`, fullPage: true });
    await page.getByRole('button', { name: 'Skip event 3' }).click();
    await page.getByRole('status').getByText('Skipped event 3').waitFor();
    expect((await append({ type: 'click' })).status).toBe(201);
    await page.getByTestId('live-state').filter({ hasText: /^3$/ }).waitFor();
    await page.getByTestId('reducer-status').first().getByText('5 / 5 folded').waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-reducer-editor.png`, fullPage: true });

    // Time travel: the state right after event 2 (event 0 was no click, events 1 and 2 were).
    const travel = page.getByTestId('time-travel');
    await travel.getByLabel('Event index').fill('2');
    await travel.getByRole('button', { name: 'Show' }).click();
    await travel.getByText('After event 2').waitFor();
    expect((await travel.locator('.json-line').innerText()).trim()).toBe('2');

    // A replay preview of code that counts every event: old and new final states side by side, no effects.
    await editor.fill('(count, event) => count + 1');
    await page.getByLabel('replay from the start').check();
    const preview = page.getByTestId('replay-preview');
    await preview.getByRole('button', { name: 'Preview the replay' }).click();
    await preview.getByText('It would record no effects.').waitFor();
    await preview.getByText('Folded 5 / 5 events').waitFor();
    expect((await preview.getByTestId('replay-preview-old').innerText()).replace(/\s+/g, ' ').trim()).toBe('Now (v2) 3');
    expect((await preview.getByTestId('replay-preview-new').innerText()).replace(/\s+/g, ' ').trim()).toBe('After the replay (v3) 5');
    expect(await preview.getByTestId('replay-preview-keys').count()).toBe(0);
    await page.screenshot({ path: `${SHOTS}/pipet-replay-preview.png`, fullPage: true });
    await page.getByLabel('continue from here').check();

    // Back on the stream page: the reducer is listed as active, and the effects page opens.
    await page.getByRole('link', { name: 'clicks' }).click();
    await page.getByRole('link', { name: 'count' }).waitFor();
    await page.getByTestId('stream-length').filter({ hasText: '5' }).waitFor();
    await page.getByTestId('reducer-status').getByText('active').waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-stream.png`, fullPage: true });
    await page.goto(`${web.url}/${team}/effects`);
    await page.getByRole('heading', { level: 1, name: 'Effects' }).waitFor();
    await page.getByText('No effects.').waitFor();
  });

  it('effects: an email lands in the outbox; a failed webhook shows its attempts and is retried', { timeout: 60_000 }, async () => {
    const { db } = await import('../../src/lib/server/db/client.ts');
    const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
    const stream = await db().stream.findFirstOrThrow({ where: { slug: 'clicks', team: { slug: team } } });
    const closed = await freePort();
    const code = `(s, e) => {
      if (e.type === 'signup') email({ to: e.email, subject: 'Welcome, ' + e.name, text: 'Glad you are here.' });
      if (e.type === 'alert') request('http://127.0.0.1:${closed}/hook', { body: e });
      return s;
    }`;
    await upsertReducer({ streamId: stream.id, name: 'notify', code, db: db() });
    expect((await append({ type: 'signup', email: 'ada@example.com', name: 'Ada' })).status).toBe(201);
    expect((await append({ type: 'alert', level: 'high' })).status).toBe(201);

    // Wait until both effects are settled, then look at them in the browser.
    for (let i = 0; ; i++) {
      const settled = await db().effect.count({ where: { reducer: { name: 'notify' }, status: { in: ['delivered', 'failed'] } } });
      if (settled === 2) break;
      if (i > 150) throw new Error(`effects not settled:\n${worker.output()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.goto(`${web.url}/${team}/effects?status=failed`);
    const row = page.getByRole('row').filter({ hasText: `POST http://127.0.0.1:${closed}/hook` });
    await row.getByText('failed', { exact: true }).waitFor();
    await row.getByRole('button', { name: 'Details' }).click();
    await page.getByRole('heading', { name: 'Attempts' }).waitFor();
    // Why it went out: the event that caused it, and the state before and after it.
    const why = page.getByTestId('effect-cause');
    await why.getByText('"high"').waitFor();
    await why.getByText('State before it').waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-effects-failed.png`, fullPage: true });
    await row.getByRole('button', { name: 'Retry' }).click();
    for (let i = 0; ; i++) {
      const effect = await db().effect.findFirstOrThrow({ where: { reducer: { name: 'notify' }, kind: 'webhook' } });
      if (effect.attempts === 2 && effect.status === 'failed') break;
      if (i > 150) throw new Error(`retry not attempted: ${JSON.stringify(effect)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await page.reload();
    await page.getByRole('row').filter({ hasText: '/hook' }).getByRole('cell', { name: '2', exact: true }).waitFor();

    await page.getByRole('link', { name: 'delivered', exact: true }).click();
    await page.getByRole('row').filter({ hasText: 'to ada@example.com: Welcome, Ada' }).waitFor();
    await page.getByRole('button', { name: 'Welcome, Ada' }).click();
    await page.getByText('Glad you are here.').waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-effects.png`, fullPage: true });
  });

  it('recipes page installs stuck-user; the stream settings make it publicly readable', { timeout: 120_000 }, async () => {
    // Its own user, team and browser context: independent of the tests above.
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const own = await context.newPage();
    own.setDefaultTimeout(30_000);
    try {
      await own.goto(`${web.url}/signup`, { waitUntil: 'networkidle' });
      await own.getByLabel('Email').fill(`${uniqueSlug('grace')}@example.com`);
      await own.getByLabel('Password').fill('correct horse battery');
      await own.getByRole('button', { name: 'Sign up' }).click();
      await own.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
      const ownTeam = new URL(own.url()).pathname.slice(1);
      const read = () => fetch(`${web.url}/s/${ownTeam}/onboarding`);

      // The recipes page, from the team home; install stuck-user with its defaults.
      await own.getByRole('link', { name: 'Recipes' }).click();
      await own.getByRole('heading', { level: 1, name: 'Recipes' }).waitFor();
      const card = own.getByTestId('recipe-stuck-user');
      await card.getByRole('button', { name: 'Install stuck-user' }).click();
      const streamLink = card.getByRole('status').getByRole('link', { name: 'onboarding', exact: true });
      await streamLink.waitFor();
      await card.getByRole('status').getByRole('link', { name: 'stuck-users' }).waitFor();
      // Installing again is a conflict, shown as such.
      await card.getByRole('button', { name: 'Install stuck-user' }).click();
      await card.getByRole('alert').getByText('already has a reducer').waitFor();
      await own.screenshot({ path: `${SHOTS}/pipet-recipes.png`, fullPage: true });
      expect((await read()).status).not.toBe(200);

      // The stream page: an invalid origin is refused; public read is saved and works without a key.
      await own.goto(`${web.url}/${ownTeam}/streams/onboarding`);
      await own.getByRole('heading', { level: 1, name: 'Onboarding' }).waitFor();
      const settings = own.getByTestId('stream-settings');
      await settings.getByLabel('Allowed origins').fill('not an origin');
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByRole('alert').waitFor();
      await settings.getByLabel('Allowed origins').fill('https://example.com');
      await settings.getByLabel('Public read').check();
      await settings.getByRole('button', { name: 'Save settings' }).click();
      await settings.getByText('Settings saved').waitFor();
      await settings.getByText('https://example.com', { exact: true }).waitFor();
      expect((await read()).status).toBe(200);
      await own.screenshot({ path: `${SHOTS}/pipet-stream-settings.png`, fullPage: true });

      // An admin requires GitHub signatures: Pipet makes the secret and shows it; unsigned POSTs are refused, signed ones taken.
      const signature = own.getByTestId('signature-settings');
      await signature.getByLabel('Scheme').selectOption('github');
      await signature.getByRole('button', { name: 'Save signature' }).click();
      await signature.getByText('Signatures required').waitFor();
      const secret = (await signature.getByTestId('signature-secret-shown').textContent())!.trim();
      expect(secret.length).toBeGreaterThan(20);
      await own.getByTestId('signed-badge').getByText('GitHub').waitFor();
      const push = (headers: Record<string, string>) => fetch(`${web.url}/s/${ownTeam}/onboarding`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"push":1}' });
      expect((await push({})).status).toBe(401);
      expect((await push({ 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update('{"push":1}').digest('hex')}` })).status).toBe(201);
      await own.screenshot({ path: `${SHOTS}/pipet-stream-signature.png`, fullPage: true });
    } finally {
      await context.close();
    }
  });

  // Last: it revokes the key the tests above write with.
  it('revoking a key asks first: Cancel keeps it working, confirming refuses it at once', { timeout: 60_000 }, async () => {
    await page.goto(`${web.url}/${team}`, { waitUntil: 'networkidle' });
    const row = page.getByRole('listitem').filter({ hasText: 'browser test' });
    await row.getByRole('button', { name: 'Revoke' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText('Revoke key browser test?').waitFor();
    await page.screenshot({ path: `${SHOTS}/pipet-revoke-key.png` });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect((await append({ type: 'still allowed' })).status).toBe(201);

    await row.getByRole('button', { name: 'Revoke' }).click();
    await dialog.getByRole('button', { name: 'Revoke key' }).click();
    await dialog.waitFor({ state: 'detached' });
    await row.waitFor({ state: 'detached' });
    expect((await append({ type: 'refused' })).status).toBe(401);
  });
});
