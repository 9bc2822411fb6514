// The `invite` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const inviteRouter = router({});
