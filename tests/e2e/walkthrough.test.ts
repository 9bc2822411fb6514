// The README's stuck-user walkthrough, with nothing but HTTP requests (what curl sends): install the
// recipe with a manage key, push events with an ingest key, and the right email reaches SMTP.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { makeTeam, useOwnDatabase } from '../helpers/context.ts';
import { startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';

const own = await useOwnDatabase('walkthrough');
const { db } = await import('../../src/lib/server/db/client.ts');

const mails: { to: string[]; raw: string }[] = [];
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') });
      callback();
    });
  },
});
let web: Running;
let worker: Running;

beforeAll(async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  const env = { ...own.env, SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`, SWEEP_INTERVAL_MS: '500' };
  web = await startWeb(env);
  worker = startWorkerProcess(env);
});
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
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
  let state: { users: Record<string, { outcome: string | null }> } | undefined;
  while (Date.now() < deadline) {
    state = await (await fetch(`${B}/state/stuck-users`, { headers: { authorization: `Bearer ${key}` } })).json();
    if (state?.users?.ada?.outcome && state.users.bob?.outcome && mails.length > 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(state?.users.ada.outcome, worker.output()).toBe('emailed');
  expect(state?.users.bob.outcome).toMatch(/already reached out/);
  expect(mails).toHaveLength(1);
  expect(mails[0].to).toEqual(['ada@example.com']);
  expect(mails[0].raw).toContain('created a stream');
  expect(mails[0].raw).toContain('Reducers 101');
}, 60_000);
