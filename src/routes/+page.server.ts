import { redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { landingPath } from '$lib/server/auth/landing.ts';

// Signed-in people go straight to their team; everyone else sees the landing page.
export const load: PageServerLoad = async ({ locals }) => {
  if (locals.user) {
    const path = await landingPath(locals.user.id);
    if (path !== '/') redirect(303, path);
  }
};
