// Recipes through the API: the catalogue, installing in one transaction, and the stuck-user recipe
// end to end — events in, a worker folding and delivering, the right email at a real SMTP server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam } from '../helpers/context.ts';
import { startWorkerProcess, type Running } from '../helpers/server.ts';
import { startSmtpCapture } from '../helpers/smtp.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';

const ctx = await useOwnDatabase('recipes');
const { db } = await import('../../src/lib/server/db/client.ts');
const { createCaller } = await import('../../src/lib/server/trpc/root.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');

let smtp: Awaited<ReturnType<typeof startSmtpCapture>>;

let team: { id: string; slug: string };
let owner: ReturnType<typeof createCaller>;
let member: ReturnType<typeof createCaller>;
let worker: Running | undefined;

async function as(role: 'owner' | 'member') {
  const user = await db().user.create({ data: { email: `${role}-${team.slug}@example.com`, passwordHash: 'x' } });
  await db().membership.create({ data: { teamId: team.id, userId: user.id, role } });
  return createCaller({ db: db(), caller: { kind: 'user', userId: user.id, email: user.email }, clientAddress: 'test' });
}

beforeAll(async () => {
  smtp = await startSmtpCapture();
  team = await makeTeam(db());
  owner = await as('owner');
  member = await as('member');
});
afterAll(async () => {
  await worker?.stop();
  await smtp?.close();
});

describe('recipe router', () => {
  it('lists the recipes with their parameters as JSON Schema', async () => {
    const list = await member.recipe.list();
    expect(list.map((r) => r.name)).toEqual(['stuck-user', 'form-submissions', 'threshold-alert', 'inactive-users', 'tic-tac-toe']);
    expect(list[0].params).toMatchObject({ type: 'object', properties: { hours: { type: 'number', default: 24 } } });
  });

  it('installs streams and reducers, refuses a second install on the same stream, and checks params and roles', async () => {
    const installed = await member.recipe.install({ team: team.slug, recipe: 'tic-tac-toe', params: { stream: 'game-1' } });
    expect(installed).toEqual({ recipe: 'tic-tac-toe', streams: [{ slug: 'game-1', created: true }], reducers: [{ stream: 'game-1', name: 'board' }] });
    const reducer = await db().reducer.findFirstOrThrow({ where: { name: 'board', stream: { slug: 'game-1', teamId: team.id } }, include: { state: true, versions: true } });
    expect(reducer.versions).toHaveLength(1);
    expect(reducer.state).toMatchObject({ version: 1, cursor: 0 });

    await expect(member.recipe.install({ team: team.slug, recipe: 'tic-tac-toe', params: { stream: 'game-1' } })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(member.recipe.install({ team: team.slug, recipe: 'nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(member.recipe.install({ team: team.slug, recipe: 'threshold-alert', params: { threshold: 'ten' } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(member.recipe.install({ team: team.slug, recipe: 'stuck-user', params: { from: 'x@example.com' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect(await db().stream.count({ where: { teamId: team.id } })).toBe(1);
  });
});

describe('stuck-user recipe, end to end', () => {
  it('emails the stuck user about their steps and docs, and nobody who wrote to support', async () => {
    await owner.recipe.install({ team: team.slug, recipe: 'stuck-user', params: { hours: 1.5 / 3600, doneStep: 'deployed', from: 'Pipet Team <team@pipet.example>', subject: 'Stuck on setup?' } });
    const stream = await db().stream.findUniqueOrThrow({ where: { id: streamIdFor(team.slug, 'onboarding') } });
    worker = startWorkerProcess({ ...ctx.env, SMTP_URL: smtp.url, SWEEP_INTERVAL_MS: '300', RETRY_SCHEDULE: '0,200,200' });
    await appendEvents({
      streamId: stream.id,
      bodies: [
        { type: 'signup', user: 'ada', email: 'ada@example.com', name: 'Ada' },
        { type: 'signup', user: 'bob', email: 'bob@example.com' },
        { type: 'step_completed', user: 'ada', step: 'created a stream' },
        { type: 'doc_viewed', user: 'ada', doc: 'Reducers 101' },
        { type: 'support_email', user: 'bob' },
      ],
    });
    const deadline = Date.now() + 20_000;
    // One state per user (the recipe is keyed by user).
    type UserState = { outcome: string | null };
    const users: Record<string, UserState | undefined> = {};
    while (Date.now() < deadline) {
      const rows = await db().keyedState.findMany({ where: { streamId: stream.id, key: { in: ['ada', 'bob'] } } });
      for (const r of rows) users[r.key] = r.state as UserState;
      if (users.ada?.outcome && users.bob?.outcome && smtp.mails.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(users.ada?.outcome, worker.output()).toBe('emailed');
    expect(users.bob?.outcome).toBe('not emailed: already reached out (wrote to support)');
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0].to).toEqual(['ada@example.com']);
    expect(smtp.mails[0].raw).toMatch(/^Subject: Stuck on setup\?$/m);
    // The recipe's `from` is an unverified sender: it gets the replies, Pipet's own address sends.
    expect(smtp.mails[0].raw).toMatch(/^From: .+ via Pipet <noreply@[^>]+>$/m);
    expect(smtp.mails[0].raw).toMatch(/^Reply-To: Pipet Team <team@pipet\.example>$/m);
    expect(smtp.mails[0].raw).toContain('created a stream');
    expect(smtp.mails[0].raw).toContain('Reducers 101');
    // The checks came back as events in the stream itself.
    expect((await db().stream.findUniqueOrThrow({ where: { id: stream.id } })).length).toBe(7);
  });
});
