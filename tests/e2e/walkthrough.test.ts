// The README's stuck-user walkthrough, with nothing but HTTP requests (what curl sends): install the
// recipe with a manage key, push events with an ingest key, and the right email reaches SMTP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';

const own = await useOwnDatabase('walkthrough');
const { db } = await import('../../src/lib/server/db/client.ts');

let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;
let web: Running;
let worker: Running;

beforeAll(async () => {
  smtp = await startSmtpCapture();
  const env = { ...own.env, SMTP_URL: smtp.url, SWEEP_INTERVAL_MS: '500' };
  web = await startWeb(env);
  worker = startWorkerProcess(env);
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
  await smtp?.close();
});

it('installs stuck-user with curl, and emails only the user who is stuck', async () => {
  const team = await makeTeam(db());
  const manage = await team.key(['manage']);
  const key = await team.key(['ingest', 'read']);

  const install = await fetch(`${web.url}/api/trpc/recipe.install`, {
    method: 'POST',
    headers: { authorization: `Bearer ${manage}`, 'content-type': 'application/json' },
    body: JSON.stringify({ json: { team: team.slug, recipe: 'stuck-user', params: { hours: 1 / 3600, doneStep: 'deployed' } } }),
  });
  expect(install.status, await install.clone().text()).toBe(200);

  const B = `${web.url}/s/${team.slug}/onboarding`;
  const batch = await fetch(`${B}/batch`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify([
      { type: 'signup', user: 'ada', email: 'ada@example.com', name: 'Ada' },
      { type: 'step_completed', user: 'ada', step: 'created a stream' },
      { type: 'doc_viewed', user: 'ada', doc: 'Reducers 101' },
      { type: 'signup', user: 'bob', email: 'bob@example.com' },
      { type: 'support_email', user: 'bob' },
    ]),
  });
  expect(batch.status).toBe(201);

  const deadline = Date.now() + 20_000;
  // One state per user, each at its own URL.
  const user = async (id: string) => {
    const res = await fetch(`${B}/state/stuck-users/${encodeURIComponent(id)}`, { headers: { authorization: `Bearer ${key}` } });
    return res.status === 200 ? ((await res.json()) as { outcome: string | null }) : null;
  };
  let ada: { outcome: string | null } | null = null;
  let bob: { outcome: string | null } | null = null;
  while (Date.now() < deadline) {
    [ada, bob] = await Promise.all([user('ada'), user('bob')]);
    if (ada?.outcome && bob?.outcome && smtp.mails.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(ada?.outcome, worker.output()).toBe('emailed');
  expect(bob?.outcome).toMatch(/already reached out/);
  expect(smtp.mails).toHaveLength(1);
  expect(smtp.mails[0].to).toEqual(['ada@example.com']);
  expect(smtp.mails[0].raw).toContain('created a stream');
  expect(smtp.mails[0].raw).toContain('Reducers 101');
}, 60_000);
