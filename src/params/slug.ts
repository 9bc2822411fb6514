// Team and stream slugs: `/favicon.ico` and friends never reach the team pages.
import type { ParamMatcher } from '@sveltejs/kit';
import { isSlug } from '$lib/schemas/vocabulary.ts';

export const match = ((param: string) => isSlug(param)) satisfies ParamMatcher;
