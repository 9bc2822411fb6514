// A keyed reducer in a real browser (Debian's chromium through playwright-core) against the built
// server and a real worker: write one with a keyBy and test it key by key, then count, chart, search
// and open its keys, watch one key's state change live with the event that changed it, preview a
// replay key by key, and forget that key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { uniqueSlug, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
import { launch, shoot, watchErrors } from './browser-kit.ts';

// At the top level, so its clean-up (dropping the database and the Redis keys) is registered.
const ownDb = await useOwnDatabase('key_browser');

describe('a keyed reducer in the browser', () => {
  let web: Running;
  let worker: Running;
  let browser: Browser;
  let page: Page;
  let errors: string[];

  beforeAll(async () => {
    web = await startWeb({ ...ownDb.env, SSE_HEARTBEAT_MS: '300' });
    worker = startWorkerProcess({ ...ownDb.env, SWEEP_INTERVAL_MS: '1000' });
    browser = await launch();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(30_000);
    errors = watchErrors(page);
  });
  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    await web?.stop();
  });

  it('keyBy → keyed dry run → key count and growth → search by prefix → one key live, with its timeline → keyed replay preview → delete it', { timeout: 180_000 }, async () => {
    await page.goto(`${web.url}/signup`, { waitUntil: 'networkidle' });
    await page.getByLabel('Email').fill(`${uniqueSlug('keys')}@example.com`);
    await page.getByLabel('Password').fill('correct horse battery');
    await page.getByRole('button', { name: 'Sign up' }).click();
    await page.getByRole('heading', { level: 2, name: 'Streams' }).waitFor();
    const team = new URL(page.url()).pathname.slice(1);

    // A stream and an ingest key through the team page; events of three users and one without a user.
    // The name field checks the slug format in the browser (its `pattern` compiles in chromium's `v` mode).
    const streamName = page.getByLabel('Stream name');
    const mismatch = () => streamName.evaluate((el: HTMLInputElement) => el.validity.patternMismatch);
    for (const bad of ['-signups', 'Signups', 'sign_ups', 'x'.repeat(64)]) {
      await streamName.fill(bad);
      expect(await mismatch(), bad).toBe(true);
    }
    await streamName.fill('sign-ups-2');
    expect(await mismatch()).toBe(false);
    await page.getByLabel('Stream name').fill('signups');
    await page.getByRole('button', { name: 'Create stream' }).click();
    await page.getByRole('link', { name: `/s/${team}/signups` }).waitFor();
    await page.getByLabel('Key name').fill('key browser test');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = (await page.locator('.secret code').textContent())!.trim();
    const append = async (body: unknown) => expect((await postJson(`${web.url}/s/${team}/signups`, body, bearer(key))).status).toBe(201);
    for (const body of [{ user: 'user-ada', amount: 3 }, { user: 'user-bob', amount: 5 }, { type: 'noise' }, { user: 'admin-eve', amount: 1 }]) await append(body);

    // A new reducer with a keyBy, written in the editor.
    await page.goto(`${web.url}/${team}/streams/signups/reducers/spend`, { waitUntil: 'networkidle' });
    await page.getByRole('heading', { name: 'New reducer spend' }).waitFor();
    await page.getByText('(event, index) => key — one state per key; leave empty for one state').waitFor();
    await page.getByLabel('Reducer code').fill('(s, event) => ({ n: s.n + 1, total: s.total + (event.amount || 0) })');
    await page.getByLabel('Key by').fill('(event) => event.user');
    await page.getByLabel('Initial state').fill('{"n":0,"total":0}');

    // Tested before saving: each event with its key and that key's state after it; the event with no
    // user is passed over; then the final state of every key touched.
    await page.getByRole('button', { name: 'Test against recent events' }).click();
    const dry = page.getByTestId('dry-run');
    const steps = dry.getByTestId('dry-run-steps').locator('tbody tr');
    await steps.first().waitFor();
    const rows = await steps.evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td as HTMLElement).innerText.trim())));
    expect(rows).toEqual([
      ['0', 'user-ada', '{"user":"user-ada","amount":3}', '{"n":1,"total":3}'],
      ['1', 'user-bob', '{"user":"user-bob","amount":5}', '{"n":1,"total":5}'],
      ['2', 'passed over', '{"type":"noise"}', '—'],
      ['3', 'admin-eve', '{"user":"admin-eve","amount":1}', '{"n":1,"total":1}'],
    ]);
    await dry.getByText('3 keys touched').waitFor();
    const finals = await dry.getByTestId('dry-run-keys').getByRole('listitem').allInnerTexts();
    expect(finals.map((t) => t.replace(/\s+/g, ' '))).toEqual(['user-ada {"n":1,"total":3}', 'user-bob {"n":1,"total":5}', 'admin-eve {"n":1,"total":1}']);
    expect(await dry.getByTestId('dry-run-state').count()).toBe(0);
    await shoot(page, 'pipet-keyed-dry-run');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('status').getByText('Created spend').waitFor();

    // Its keys: three (the event with no user has none), counted and charted.
    await page.getByRole('heading', { level: 2, name: 'Keys' }).waitFor();
    await page.getByTestId('key-count').filter({ hasText: /^3$/ }).waitFor();
    const growth = page.getByTestId('key-growth');
    await growth.locator('.lc-area-line').waitFor();
    expect(await growth.getAttribute('aria-label')).toBe('Live keys at the end of each hour: 3 in the latest');
    expect(await page.getByTestId('key-live-state').count()).toBe(0);
    const list = page.getByTestId('key-list');
    await list.getByRole('button', { name: /admin-eve/ }).waitFor();

    // Search by prefix: only the users' keys; none for a prefix no key has.
    await page.getByLabel('Search keys').fill('user-');
    await list.getByRole('button', { name: /admin-eve/ }).waitFor({ state: 'detached' });
    expect(await list.getByRole('button').allInnerTexts()).toEqual([expect.stringContaining('user-ada'), expect.stringContaining('user-bob')]);
    await page.getByText('2 shown starting with “user-”').waitFor();
    await page.getByLabel('Search keys').fill('nobody');
    await page.getByText('No key starts with “nobody”.').waitFor();
    await page.getByLabel('Search keys').fill('user-');

    // One key: its live state, and its timeline with the event that made each change.
    await list.getByRole('button', { name: /user-ada/ }).click();
    const detail = page.getByTestId('key-detail');
    await detail.getByRole('heading', { name: 'Key user-ada' }).waitFor();
    const live = detail.getByTestId('key-live-state');
    await live.filter({ hasText: /^\{"n":1,"total":3\}$/ }).waitFor();
    const timeline = detail.getByTestId('key-timeline');
    await timeline.getByText('event 0', { exact: true }).waitFor();
    await timeline.getByText('{"user":"user-ada","amount":3}').waitFor();
    expect(await timeline.getByRole('listitem').count()).toBe(1);

    // A new event for that key: the state follows live, and the change joins the top of the timeline.
    await append({ user: 'user-ada', amount: 4 });
    await live.filter({ hasText: /^\{"n":2,"total":7\}$/ }).waitFor();
    await timeline.getByText('{"user":"user-ada","amount":4}').waitFor();
    expect(await timeline.getByRole('listitem').count()).toBe(2);
    expect(await timeline.getByRole('listitem').first().innerText()).toContain('event 4');
    await detail.getByText('last changed by event 4').waitFor();
    // Another user's event changes nothing of this key.
    await append({ user: 'user-bob', amount: 1 });
    await page.getByTestId('reducer-status').getByText('6 / 6 folded').waitFor();
    expect(await timeline.getByRole('listitem').count()).toBe(2);
    await shoot(page, 'pipet-keyed-reducer');

    // Changing keyBy with "continue from here" is refused, and the page says why and offers the replay.
    await page.getByLabel('Key by').fill('(event) => event.type');
    await page.getByTestId('key-by-replay-hint').waitFor();
    await page.getByLabel('continue from here').check();
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const refused = page.getByTestId('key-by-refused');
    await refused.getByText('cannot be mixed').waitFor();
    await refused.getByRole('button', { name: 'Save and replay from the start' }).waitFor();
    await page.getByLabel('Key by').fill('(event) => event.user');
    await page.getByTestId('key-by-replay-hint').waitFor({ state: 'detached' });
    // The refusal was about the keyBy sent: with keyBy back as saved, it is gone.
    await refused.waitFor({ state: 'detached' });
    expect(await page.getByText('must replay from the start').count()).toBe(0);

    // A replay preview of code that doubles the totals: every key's old and new state side by side.
    await page.getByLabel('Reducer code').fill('(s, event) => ({ n: s.n + 1, total: s.total + 2 * (event.amount || 0) })');
    await page.getByLabel('replay from the start').check();
    const preview = page.getByTestId('replay-preview');
    await preview.getByRole('button', { name: 'Preview the replay' }).click();
    await preview.getByText('Folded 6 / 6 events').waitFor();
    expect((await preview.getByTestId('replay-preview-keys').innerText()).trim()).toBe('3 keys after the replay: 3 would change.');
    const differ = preview.getByTestId('replay-preview-differ').getByRole('listitem');
    expect(await differ.count()).toBe(3);
    const ada = differ.filter({ hasText: 'Key user-ada' });
    expect((await ada.getByTestId('replay-preview-old').innerText()).replace(/\s+/g, ' ').trim()).toBe('Now (v1) {"n":2,"total":7}');
    expect((await ada.getByTestId('replay-preview-new').innerText()).replace(/\s+/g, ' ').trim()).toBe('After the replay (v2) {"n":2,"total":14}');
    await preview.getByText('It would record no effects.').waitFor();
    await shoot(page, 'pipet-keyed-replay-preview');
    // Another keyBy: the preview is marked stale, and again it names one key the live reducer lacks.
    await page.getByLabel('Key by').fill('(event) => event.type');
    await preview.getByText('the code has changed since').waitFor();
    await preview.getByRole('button', { name: 'Preview the replay' }).click();
    await preview.getByText('the code has changed since').waitFor({ state: 'detached' });
    await preview.getByText('1 key after the replay: 1 would change, 1 of them new.').waitFor();
    const noise = preview.getByTestId('replay-preview-differ').getByRole('listitem');
    expect((await noise.innerText()).replace(/\s+/g, ' ').trim()).toBe('Key noise Now (v1) no such key yet After the replay (v2) {"n":1,"total":0}');
    await page.getByLabel('Key by').fill('(event) => event.user');
    await page.getByLabel('continue from here').check();

    // Forget the key: asked first; Cancel keeps it, confirming deletes it.
    await detail.getByRole('button', { name: 'Delete key' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText('Delete key “user-ada”?').waitFor();
    await shoot(page, 'pipet-delete-key');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    await live.filter({ hasText: /"total":7/ }).waitFor();
    await detail.getByRole('button', { name: 'Delete key' }).click();
    await dialog.getByRole('button', { name: 'Delete key' }).click();
    await dialog.waitFor({ state: 'detached' });
    await page.getByRole('status').getByText('Deleted key user-ada.').waitFor();
    await detail.waitFor({ state: 'detached' });
    await page.getByTestId('key-count').filter({ hasText: /^2$/ }).waitFor();
    await list.getByRole('button', { name: /user-ada/ }).waitFor({ state: 'detached' });
    expect(await list.getByRole('button').allInnerTexts()).toEqual([expect.stringContaining('user-bob')]);
    // Read as the page reads it (the session's cookie, same origin): the key is gone.
    expect(await page.evaluate((url) => fetch(url).then((r) => r.status), `/s/${team}/signups/state/spend/user-ada`)).toBe(404);

    // The team page: the team's keys and their approximate size.
    await page.goto(`${web.url}/${team}`, { waitUntil: 'networkidle' });
    const storage = page.getByTestId('keyed-storage');
    await storage.getByTestId('team-key-count').filter({ hasText: /^2$/ }).waitFor();
    expect(await storage.getByTestId('team-key-bytes').innerText()).toMatch(/^≈ \d+ B$/);
    await storage.getByRole('link', { name: 'signups/spend' }).waitFor();
    await shoot(page, 'pipet-team-keyed-state');

    // Only the failures the test asked for (the refused save, the deleted key's read).
    const seen = errors.map((e) => e.replace(/^.*status of /, ''));
    expect(seen).toEqual(['409 (Conflict)', '404 (Not Found)']);
  });
});
