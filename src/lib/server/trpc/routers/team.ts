// The `team` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const teamRouter = router({});
