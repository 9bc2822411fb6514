// The `recipe` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const recipeRouter = router({});
