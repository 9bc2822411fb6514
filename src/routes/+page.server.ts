import { redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { landingPath } from '$lib/server/auth/landing.ts';
import { demo, DEMO_CODE } from '$lib/server/demo/ensure-demo.ts';

// Signed-in people go straight to their team; everyone else sees the landing page with its live
// playground (created on first use; without it, or if it cannot be made, the page still renders).
export const load: PageServerLoad = async ({ locals, url }) => {
  if (locals.user) {
    const path = await landingPath(locals.user.id);
    if (path !== '/') redirect(303, path);
  }
  const playground = await demo().catch((e) => {
    console.error('The demo stream could not be prepared:', e);
    return null;
  });
  return { origin: url.origin, playground: playground && { ...playground, code: DEMO_CODE } };
};
