import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { deleteSessionCookie, invalidateSession, invalidateUserSessions } from '$lib/server/auth/sessions.ts';

export const load: PageServerLoad = async ({ locals }) => {
  if (!locals.user) redirect(303, '/login');
  return { email: locals.user.email };
};

export const actions: Actions = {
  /** This browser only. */
  here: async ({ locals, cookies }) => {
    if (locals.session) await invalidateSession(locals.session.id);
    deleteSessionCookie(cookies);
    redirect(303, '/login');
  },
  /** Every session of this account, on every device. */
  everywhere: async ({ locals, cookies }) => {
    if (locals.user) await invalidateUserSessions(locals.user.id);
    deleteSessionCookie(cookies);
    redirect(303, '/login');
  },
};
