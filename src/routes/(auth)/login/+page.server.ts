import type { Actions, PageServerLoad } from './$types';
import { credentialsAction, credentialsLoad } from '$lib/server/auth/credentials-action.ts';
import { logIn } from '$lib/server/auth/log-in.ts';

export const load: PageServerLoad = credentialsLoad;

export const actions: Actions = {
  default: credentialsAction(logIn),
};
