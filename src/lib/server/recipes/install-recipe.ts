// Installs a recipe into a team in one transaction: its streams (existing ones are reused), its
// reducers (new; a name already taken on the stream is a conflict) and team settings.
import { z } from 'zod';
import { db as defaultDb, type Db } from '../db/client.ts';
import { AppError } from '../errors.ts';
import { wakeFold } from '../queue/enqueue.ts';
import { findRecipe, RECIPES } from './index.ts';
import { createReducer } from '../reducers/manage-reducer.ts';
import { assertStreamCapacity, insertStream } from '../streams/ensure-stream.ts';
import { streamIdFor } from '../streams/stream-id.ts';

export type InstallRecipeOptions = { teamId: string; teamSlug: string; recipe: string; params: unknown; db?: Db };
export type InstallRecipeResult = { recipe: string; streams: { slug: string; created: boolean }[]; reducers: { stream: string; name: string }[] };

export async function installRecipe({ teamId, teamSlug, recipe: name, params, db = defaultDb() }: InstallRecipeOptions): Promise<InstallRecipeResult> {
  const recipe = findRecipe(name);
  if (!recipe) throw new AppError('not_found', `No recipe \`${name}\`. Recipes: ${RECIPES.map((r) => r.name).join(', ')}.`);
  const parsed = recipe.params.safeParse(params ?? {});
  if (!parsed.success) throw new AppError('bad_request', parsed.error.issues.map((i) => `params.${i.path.join('.')}: ${i.message}`).join('; '));
  const plan = recipe.build(parsed.data);

  const result = await db.$transaction(async (tx) => {
    const streams = new Map<string, { id: string; length: number; created: boolean }>();
    for (const s of plan.streams) {
      const id = streamIdFor(teamSlug, s.slug);
      const existing = await tx.stream.findUnique({ where: { id }, select: { id: true, length: true } });
      if (existing) {
        streams.set(s.slug, { ...existing, created: false });
        continue;
      }
      await assertStreamCapacity(teamId, tx);
      if (!(await insertStream({ teamId, teamSlug, slug: s.slug, name: s.name }, tx))) {
        throw new AppError('conflict', `Stream \`${s.slug}\` was created meanwhile; install the recipe again to use it.`);
      }
      streams.set(s.slug, { id, length: 0, created: true });
    }
    for (const r of plan.reducers) {
      const stream = streams.get(r.stream)!;
      const taken = await tx.reducer.findUnique({ where: { streamId_name: { streamId: stream.id, name: r.name } }, select: { id: true } });
      if (taken) throw new AppError('conflict', `Stream \`${r.stream}\` already has a reducer \`${r.name}\`; install into another stream (params.stream).`);
      await createReducer(tx, { streamId: stream.id, name: r.name, code: r.code, keyBy: r.keyBy ?? null, initialState: r.initialState, streamLength: stream.length });
    }
    if (plan.team?.emailFrom) await tx.team.update({ where: { id: teamId }, data: { emailFrom: plan.team.emailFrom } });
    return streams;
  });
  await Promise.all([...result.values()].map((s) => wakeFold({ streamId: s.id, teamId })));
  return {
    recipe: recipe.name,
    streams: [...result.entries()].map(([slug, s]) => ({ slug, created: s.created })),
    reducers: plan.reducers.map((r) => ({ stream: r.stream, name: r.name })),
  };
}

/** The catalogue for `recipe.list`: parameters as JSON Schema, for forms and for curl users. */
export function listRecipes() {
  return RECIPES.map((r) => ({ name: r.name, title: r.title, description: r.description, params: z.toJSONSchema(r.params, { io: 'input' }) }));
}
