import type { Actions, PageServerLoad } from './$types';
import { credentialsAction, credentialsLoad } from '$lib/server/auth/credentials-action.ts';
import { signUp } from '$lib/server/auth/sign-up.ts';

export const load: PageServerLoad = credentialsLoad;

export const actions: Actions = {
  default: credentialsAction(async (credentials) => (await signUp(credentials)).user),
};
