import { redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { deleteSessionCookie, invalidateSession, invalidateUserSessions } from '$lib/server/auth/sessions.ts';
import { recordSessionsEnded } from '$lib/server/audit/sessions-ended.ts';
import { db } from '$lib/server/db/client.ts';

export const load: PageServerLoad = async ({ locals }) => {
  // A session still owing the second factor may be logged out too (a wrong account, a lost phone).
  const who = locals.user ?? locals.twoFactorPending;
  if (!who) redirect(303, '/login');
  return { email: who.email };
};

export const actions: Actions = {
  /** This browser only. */
  here: async ({ locals, cookies }) => {
    if (locals.session) await invalidateSession(locals.session.id);
    deleteSessionCookie(cookies);
    redirect(303, '/login');
  },
  /**
   * Every session of this account, on every device; their open streams and long-polls end within
   * LIVE_REAUTH_MS. Only a complete session may end the others.
   */
  everywhere: async (event) => {
    const { locals, cookies } = event;
    if (locals.user) {
      const count = await invalidateUserSessions(locals.user.id);
      await recordSessionsEnded({ db: db(), user: locals.user, clientAddress: event.getClientAddress(), count, reason: 'log out everywhere' });
    } else if (locals.session) await invalidateSession(locals.session.id);
    deleteSessionCookie(cookies);
    redirect(303, '/login');
  },
};
