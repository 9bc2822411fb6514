// The built `pipet/client` bundle in a real browser (Debian's chromium through playwright-core),
// loaded by a page on another origin as a plain ES module: it pushes, reads, tails (SSE over fetch,
// with Authorization and CORS) and reads a reducer's state from the real server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { makeStream, makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { ROOT, startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { buildClient } from '../../src/client/build.ts';
import { launch, watchErrors } from './browser-kit.ts';

type ClientModule = typeof import('../../src/client/index.ts');

const own = await useOwnDatabase('client_browser');
const { db } = await import('../../src/lib/server/db/client.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

const outDir = join(ROOT, '.test-builds', `client-browser-${randomBytes(4).toString('hex')}`);
let web: Running;
let worker: Running;
let site: Server;
let siteUrl: string;
let browser: Browser;
let team: TeamFixture;
let key: string;

/** A static site on its own origin serving a blank page and the client bundle. */
async function serveSite(bundle: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/pipet-client.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
    // The page imports the bundle as any site would, and hands it to the test.
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><title>pipet client</title>
<script type="module">import * as client from '/pipet-client.js'; window.pipetClient = client;</script>`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

beforeAll(async () => {
  const built = await buildClient({ outDir, types: false });
  site = await serveSite(readFileSync(built.js, 'utf8'));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  web = await startWeb({ ...own.env, SSE_HEARTBEAT_MS: '300' });
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  key = await team.key(['ingest', 'read']);
  const s = await makeStream(db(), { teamId: team.id, slug: 'clicks', name: 'clicks', allowedOrigins: [siteUrl] });
  await upsertReducer({ streamId: s.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
  browser = await launch();
}, 120_000);
afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await web?.stop();
  await new Promise((r) => site?.close(r));
  rmSync(outDir, { recursive: true, force: true });
});

describe('pipet/client in chromium', () => {
  it('pushes, reads, tails and reads state from a page on another origin', { timeout: 60_000 }, async () => {
    const page = await browser.newPage();
    const errors = watchErrors(page);
    await page.goto(siteUrl);
    await page.waitForFunction(() => 'pipetClient' in window);
    const result = await page.evaluate(
      async ({ url, key, name }) => {
        const { Pipet, PipetError } = (window as unknown as { pipetClient: ClientModule }).pipetClient;
        const pipet = new Pipet({ url, key, batch: { flushMs: 20 } });
        const clicks = pipet.stream<{ click: number; from?: string }>(name);
        const pushed = await clicks.push({ click: 0, from: 'browser' });
        const tailed: unknown[] = [];
        const stop = new AbortController();
        const tailing = (async () => {
          for await (const e of clicks.tail({ from: 0, signal: stop.signal })) {
            tailed.push([e.index, e.body.click]);
            if (tailed.length === 4) stop.abort();
          }
        })();
        await clicks.pushMany([{ click: 1 }, { click: 2 }]);
        clicks.enqueue({ click: 3 });
        await pipet.close();
        await tailing;
        const refused = await new Pipet({ url, key: 'pk_nope_nope' }).stream(name).length().catch((e: unknown) => e);
        return {
          pushed,
          at: await clicks.at(-1),
          slice: await clicks.slice(1, 3),
          length: await clicks.length(),
          tailed,
          state: await clicks.state('count', { after: 3 }),
          refused: refused instanceof PipetError ? { code: refused.code, status: refused.status } : String(refused),
        };
      },
      { url: web.url, key, name: `${team.slug}/clicks` },
    );
    expect(result).toEqual({
      pushed: { index: 0, length: 1, replayed: false },
      at: { click: 3 },
      slice: [{ click: 1 }, { click: 2 }],
      length: 4,
      tailed: [[0, 0], [1, 1], [2, 2], [3, 3]],
      state: 4,
      refused: { code: 'unauthorized', status: 401 },
    });
    // The refused key's 401 is the only console complaint (chromium logs failed fetches).
    expect(errors.filter((e) => !/401/.test(e))).toEqual([]);
  });
});
