// Every recipe, by name.
import type { Recipe } from './recipe.ts';
import { stuckUser } from './stuck-user.ts';
import { formSubmissions } from './form-submissions.ts';
import { thresholdAlert } from './threshold-alert.ts';
import { ticTacToe } from './tic-tac-toe.ts';
import { inactiveUsers } from './inactive-users.ts';

export const RECIPES: Recipe[] = [stuckUser, formSubmissions, thresholdAlert, inactiveUsers, ticTacToe] as Recipe[];

export function findRecipe(name: string): Recipe | undefined {
  return RECIPES.find((r) => r.name === name);
}
