// Authorization rows for the `recipe` router: the catalogue is for any signed-in caller with a
// manage key or session; installing is for members of the team.
import { expecting, type MatrixRows } from './world.ts';

export const recipeRows: MatrixRows = {
  'recipe.list': { input: () => undefined, expect: expecting('everyone', { anonymous: 'UNAUTHORIZED', revokedKey: 'UNAUTHORIZED', ingestKey: 'FORBIDDEN' }) },
  'recipe.install': { input: (w) => ({ team: w.team.slug, recipe: 'form-submissions', params: {} }), expect: expecting('anyMember') },
};
