import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { credentialsAction, credentialsLoad, twoFactorStepPath } from '$lib/server/auth/credentials-action.ts';
import { logIn } from '$lib/server/auth/log-in.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';

export const load: PageServerLoad = async (event) => {
  const { locals, url } = event;
  // The password (or GitHub) was right and the session waits for the second factor.
  if (locals.twoFactorPending) redirect(303, twoFactorStepPath(sameOriginPath(url.searchParams.get('redirectTo'), url.origin)));
  return credentialsLoad(event);
};

export const actions: Actions = {
  default: credentialsAction(logIn),
};
