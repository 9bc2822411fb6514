// Team and stream slugs: `/favicon.ico` and friends never reach the team pages.
import type { ParamMatcher } from '@sveltejs/kit';

export const match = ((param: string) => /^[a-z0-9][a-z0-9-]{0,62}$/.test(param)) satisfies ParamMatcher;
