import type { Actions, PageServerLoad } from './$types';
import { credentialsAction, credentialsLoad } from '$lib/server/auth/credentials-action.ts';
import { githubConfigured } from '$lib/server/auth/github.ts';
import { signUp } from '$lib/server/auth/sign-up.ts';

// `github`: the server has GitHub credentials, so the page offers "Continue with GitHub".
export const load: PageServerLoad = async (event) => ({ ...(await credentialsLoad(event)), github: githubConfigured() });

export const actions: Actions = {
  default: credentialsAction(async (credentials) => (await signUp(credentials)).user),
};
