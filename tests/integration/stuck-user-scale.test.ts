// The stuck-user recipe at 100,000 users — what stopped at user 6,149 when all users lived in one
// state: every user's state readable on its own, the reducer active, and for a sample of users the
// checks come back with exactly the emails the recipe promises.
import { beforeAll, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase } from '../helpers/context.ts';

await useOwnDatabase('stuck_scale');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
const { readKey, listKeys } = await import('../../src/lib/server/reducers/read-keys.ts');
const { installRecipe } = await import('../../src/lib/server/recipes/install-recipe.ts');
const { closeSandbox } = await import('../../src/lib/server/reducers/sandbox/index.ts');
const { streamIdFor } = await import('../../src/lib/server/streams/stream-id.ts');

const USERS = 100_000;
let team: { id: string; slug: string };
beforeAll(async () => {
  team = await makeTeam(db());
  return () => closeSandbox();
});

async function foldAll(streamId: string) {
  while ((await foldStream({ streamId, timeBudgetMs: 60_000, batchSize: 1000 })).more);
}

it('holds 100,000 users, each readable, and emails exactly the stuck ones of a sample', { timeout: 600_000 }, async () => {
  await installRecipe({ teamId: team.id, teamSlug: team.slug, recipe: 'stuck-user', params: { hours: 24, doneStep: 'deployed' } });
  const streamId = streamIdFor(team.slug, 'onboarding');
  for (let from = 0; from < USERS; from += 1000) {
    const bodies = Array.from({ length: 1000 }, (_, k) => ({ type: 'signup', user: `user-${from + k}`, email: `user-${from + k}@example.com` }));
    await appendEvents({ streamId, bodies });
  }
  // A sample: one stuck after some steps and docs, one who wrote to support, one who finished, one who tweeted.
  await appendEvents({
    streamId,
    bodies: [
      { type: 'step_completed', user: 'user-17', step: 'created a stream' },
      { type: 'doc_viewed', user: 'user-17', doc: 'Reducers 101' },
      { type: 'support_email', user: 'user-4242' },
      { type: 'step_completed', user: 'user-99999', step: 'deployed' },
      { type: 'tweet', user: 'user-50000' },
    ],
  });
  await foldAll(streamId);

  const view = (await readReducerState({ streamId, name: 'stuck-users' }))!;
  expect(view).toMatchObject({ status: 'active', folded: USERS + 5, keyed: { keyCount: USERS } });
  const scope = { streamId, reducerId: view.reducerId, lineage: view.keyed!.lineage };

  // Every user's state, page by page.
  let seen = 0;
  let after: string | null = null;
  do {
    const page = await listKeys({ ...scope, after, limit: 1000 });
    for (const k of page.keys) expect(JSON.parse(k.stateJson).signedUpAt, k.key).not.toBeNull();
    seen += page.keys.length;
    after = page.next;
  } while (after !== null);
  expect(seen).toBe(USERS);
  // One timer per user, each waiting for its own check.
  expect(await db().effect.count({ where: { streamId, kind: 'timer', status: 'pending' } })).toBe(USERS);

  // The checks of the sample come back (as the timers would append them), and are folded.
  const sample = ['user-17', 'user-4242', 'user-99999', 'user-50000', 'user-3'];
  const { first } = await appendEvents({ streamId, bodies: sample.map((user) => ({ type: 'stuck_check', user })) });
  await foldAll(streamId);
  const outcome = async (user: string) => JSON.parse((await readKey({ ...scope, key: user }))!.stateJson).outcome;
  expect(await outcome('user-17')).toBe('emailed');
  expect(await outcome('user-3')).toBe('emailed');
  expect(await outcome('user-4242')).toBe('not emailed: already reached out (wrote to support)');
  expect(await outcome('user-50000')).toBe('not emailed: already reached out (tweeted)');
  expect(await outcome('user-99999')).toBe('not emailed: finished setup');
  const emails = await db().effect.findMany({ where: { streamId, kind: 'email', eventIndex: { gte: first } }, orderBy: { eventIndex: 'asc' } });
  expect(emails.map((e) => [e.stateKey, (e.payload as { to: string }).to])).toEqual([
    ['user-17', 'user-17@example.com'],
    ['user-3', 'user-3@example.com'],
  ]);
  expect((emails[0].payload as { text: string }).text).toContain('created a stream');
  expect((emails[0].payload as { text: string }).text).toContain('Reducers 101');
  // Everyone else is untouched by the sample's checks.
  expect(await outcome('user-18')).toBeNull();
});
