// Recipes: the catalogue, and installing one (streams, reducers and settings in one transaction).
import { z } from 'zod';
import { router, teamProcedure, authedProcedure } from '../init.ts';
import { atLeast } from '../../../schemas/vocabulary.ts';
import { AppError } from '../../errors.ts';
import { installRecipe, listRecipes } from '../../recipes/install-recipe.ts';

export const recipeRouter = router({
  list: authedProcedure.query(() => listRecipes()),

  install: teamProcedure
    .input(z.object({ recipe: z.string().min(1).max(100), params: z.record(z.string(), z.unknown()).default({}) }))
    .mutation(async ({ ctx, input }) => {
      // A recipe's sender address is a team setting: admins only.
      if ('from' in input.params && !atLeast(ctx.role, 'admin')) throw new AppError('forbidden', "Setting the team's sender address (params.from) needs the admin role.");
      return installRecipe({ teamId: ctx.team.id, teamSlug: ctx.team.slug, recipe: input.recipe, params: input.params, db: ctx.db });
    }),
});
