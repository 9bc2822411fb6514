// What the browser tests share: Debian's chromium through playwright-core, launched for a machine
// with no outside network, a folder for screenshots that `npm test` names at the end, and a
// watch on a page's console and uncaught errors.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ROOT } from '../helpers/server.ts';

export const CHROMIUM = '/usr/bin/chromium';
// The machine's network is closed: nothing in the browser should try to reach the internet.
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const SHOTS = join(ROOT, 'test-results', 'screenshots');

export function launch(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
}

/** Saves a full-page screenshot as test-results/screenshots/<name>.png. */
export async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Collects console errors and uncaught exceptions of a page, with the URL they happened on. */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`${page.url()}: console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`${page.url()}: ${e.message}`));
  return errors;
}
