import { redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { landingPath } from '$lib/server/auth/landing.ts';
import { isSlug } from '$lib/schemas/vocabulary.ts';
import { githubLinkStatus } from '$lib/server/auth/link-github.ts';

export const load: PageServerLoad = async (event) => {
  const { locals, url } = event;
  if (!locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  const api = await serverCaller(event);
  const [sessions, twoFactor, home, github] = await Promise.all([api.session.list(), api.twoFactor.status(), landingPath(locals.user.id), githubLinkStatus(locals.user.id)]);
  // `?required=<team>`: sent here by a team that requires two-factor authentication.
  const required = url.searchParams.get('required');
  return { email: locals.user.email, sessions, twoFactor, home, github, requiredBy: required && isSlug(required) ? required : null };
};
