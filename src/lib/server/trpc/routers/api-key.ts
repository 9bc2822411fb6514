// The `apiKey` router. (Filled in by its issue.)
import { router } from '../init.ts';

export const apiKeyRouter = router({});
