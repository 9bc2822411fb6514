// The `effect` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const effectRouter = router({});
