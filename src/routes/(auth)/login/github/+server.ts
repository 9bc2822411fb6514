// Sign in with GitHub, step one (Lucia's tutorial): a random state in a short-lived httpOnly cookie,
// then off to GitHub. `?link=1`, signed in: the callback links GitHub to this account instead.
// Without GitHub credentials configured this route does not exist (404).
import { error, redirect } from '@sveltejs/kit';
import type { RequestHandler } from './$types';
import { isProduction } from '$lib/server/env.ts';
import { GITHUB_COOKIE_MAX_AGE, GITHUB_LINK_COOKIE, GITHUB_NEXT_COOKIE, GITHUB_STATE_COOKIE, generateState, githubAuthorizationUrl, githubConfigured } from '$lib/server/auth/github.ts';
import { landingPath } from '$lib/server/auth/landing.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';

export const GET: RequestHandler = async ({ url, cookies, locals }) => {
  if (!githubConfigured()) error(404, 'Not found');
  const link = url.searchParams.get('link') === '1';
  const redirectTo = sameOriginPath(url.searchParams.get('redirectTo'), url.origin);
  if (link && !locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent('/account')}`);
  if (!link && locals.user) redirect(303, await landingPath(locals.user.id, { redirectTo, origin: url.origin }));

  const state = generateState();
  const options = { path: '/login/github', httpOnly: true, sameSite: 'lax', secure: isProduction(), maxAge: GITHUB_COOKIE_MAX_AGE } as const;
  cookies.set(GITHUB_STATE_COOKIE, state, options);
  // Which account asked to link: the callback links only while that account is still the one signed in.
  if (link && locals.user) cookies.set(GITHUB_LINK_COOKIE, locals.user.id, options);
  else cookies.delete(GITHUB_LINK_COOKIE, { path: options.path });
  if (redirectTo) cookies.set(GITHUB_NEXT_COOKIE, redirectTo, options);
  else cookies.delete(GITHUB_NEXT_COOKIE, { path: options.path });
  redirect(302, githubAuthorizationUrl({ state, origin: url.origin }).toString());
};
