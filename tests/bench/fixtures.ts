// The benchmark's team, key and streams, made through the project's own functions (the tests'
// makeTeam and createApiKey, ensureStream, upsertReducer) in the run's own database.
export const COUNTER = '(n) => n + 1';

export type Fixtures = { teamId: string; teamSlug: string; authorization: string; streams: Record<string, string>; path(slug: string): string };

/** `counted` streams get a counter reducer `count`; `plain` streams none; `reducers` adds others. */
export async function makeFixtures({ counted, plain = [], reducers = {} }: { counted: string[]; plain?: string[]; reducers?: Record<string, { name: string; code: string }> }): Promise<Fixtures> {
  const { db } = await import('../../src/lib/server/db/client.ts');
  const { makeTeam } = await import('../helpers/context.ts');
  const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const team = await makeTeam(db());
  const key = await team.key(['ingest', 'read']);
  const streams: Record<string, string> = {};
  for (const slug of [...counted, ...plain, ...Object.keys(reducers)]) {
    streams[slug] = (await ensureStream({ teamId: team.id, slug, select: { id: true } })).id;
  }
  for (const slug of counted) await upsertReducer({ streamId: streams[slug], name: 'count', code: COUNTER, initialState: 0 });
  for (const [slug, { name, code }] of Object.entries(reducers)) await upsertReducer({ streamId: streams[slug], name, code, initialState: 0 });
  return { teamId: team.id, teamSlug: team.slug, authorization: `Bearer ${key}`, streams, path: (slug) => `/s/${team.slug}/${slug}` };
}
