// The `reducer` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const reducerRouter = router({});
