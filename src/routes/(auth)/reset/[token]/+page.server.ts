// Choosing a new password from an emailed reset link: the link works once, for an hour. Completing
// it ends every session of the account (on every device) and signs this browser in afresh (with
// two-factor on, the new session still asks for the second factor).
import { recordSessionsEnded } from '$lib/server/audit/sessions-ended.ts';
import { db } from '$lib/server/db/client.ts';
import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { AppError } from '$lib/server/errors.ts';
import { completePasswordReset, findPasswordReset } from '$lib/server/auth/password-reset.ts';
import { createSession, sessionDetails, setSessionCookie } from '$lib/server/auth/sessions.ts';
import { twoFactorStepPath } from '$lib/server/auth/credentials-action.ts';
import { landingPath } from '$lib/server/auth/landing.ts';

export const load: PageServerLoad = async ({ params }) => {
  const reset = await findPasswordReset(params.token);
  return { email: reset?.user.email ?? null };
};

export const actions: Actions = {
  default: async (event) => {
    const { request, params, cookies } = event;
    const form = await request.formData();
    let user: { id: string; email: string; twoFactor: boolean; sessionsEnded: number };
    try {
      user = await completePasswordReset({ token: params.token, password: String(form.get('password') ?? '') });
    } catch (error) {
      if (error instanceof AppError) return fail(error.status, { message: error.message, gone: error.code === 'not_found' });
      throw error;
    }
    await recordSessionsEnded({ db: db(), user, clientAddress: event.getClientAddress(), count: user.sessionsEnded, reason: 'password reset' });
    const { token, session } = await createSession(user.id, undefined, sessionDetails(event));
    setSessionCookie(cookies, token, session.expiresAt);
    if (user.twoFactor) redirect(303, twoFactorStepPath(null));
    redirect(303, await landingPath(user.id));
  },
};
