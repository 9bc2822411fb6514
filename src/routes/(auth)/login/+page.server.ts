import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { credentialsAction, credentialsLoad, twoFactorStepPath } from '$lib/server/auth/credentials-action.ts';
import { githubConfigured } from '$lib/server/auth/github.ts';
import { logIn } from '$lib/server/auth/log-in.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';

export const load: PageServerLoad = async (event) => {
  const { locals, url } = event;
  // The password (or GitHub) was right and the session waits for the second factor.
  if (locals.twoFactorPending) redirect(303, twoFactorStepPath(sameOriginPath(url.searchParams.get('redirectTo'), url.origin)));
  // `github`: the server has GitHub credentials, so the page offers "Continue with GitHub".
  return { ...(await credentialsLoad(event)), github: githubConfigured() };
};

export const actions: Actions = {
  default: credentialsAction(logIn),
};
