// Where a team stands on the first-run checklist: a key, a first event, a reducer, a recipe.
// Four small counts, each on an indexed column of this team's rows.
import { db as defaultDb, type DbTx } from '../db/client.ts';
import { RECIPES } from '../recipes/index.ts';

export type ReadFirstRunOptions = { teamId: string; db?: DbTx };

/** Reducer names the recipes install (with their default parameters), to tell a recipe was used. */
function recipeReducerNames(): string[] {
  return RECIPES.flatMap((r) => {
    const params = r.params.safeParse({});
    return params.success ? r.build(params.data).reducers.map((x) => x.name) : [];
  });
}

export async function readFirstRun({ teamId, db = defaultDb() }: ReadFirstRunOptions) {
  const [keys, firstStream, reducers, recipeReducers] = await Promise.all([
    db.apiKey.count({ where: { teamId, revokedAt: null } }),
    // The team's own streams: the audit log fills as keys are made, which is not a first event.
    db.stream.findFirst({ where: { teamId, system: false, length: { gt: 0 } }, select: { slug: true, length: true, lastEventAt: true }, orderBy: { lastEventAt: 'desc' } }),
    db.reducer.findFirst({ where: { stream: { teamId, system: false } }, select: { name: true, stream: { select: { slug: true } } }, orderBy: { createdAt: 'asc' } }),
    db.reducer.count({ where: { stream: { teamId }, name: { in: recipeReducerNames() } } }),
  ]);
  return {
    hasKey: keys > 0,
    firstEvent: firstStream ? { stream: firstStream.slug, length: firstStream.length, at: firstStream.lastEventAt } : null,
    firstReducer: reducers ? { stream: reducers.stream.slug, name: reducers.name } : null,
    recipeInstalled: recipeReducers > 0,
  };
}
