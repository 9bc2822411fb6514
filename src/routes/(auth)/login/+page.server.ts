import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { AppError } from '$lib/server/errors.ts';
import { landingPath, safeRedirect } from '$lib/server/auth/landing.ts';
import { logIn } from '$lib/server/auth/log-in.ts';
import { createSession, setSessionCookie } from '$lib/server/auth/sessions.ts';

export const load: PageServerLoad = async ({ locals, url }) => {
  if (locals.user) redirect(303, await landingPath(locals.user.id, url.searchParams.get('redirectTo')));
  return { redirectTo: safeRedirect(url.searchParams.get('redirectTo')), email: url.searchParams.get('email') ?? '' };
};

export const actions: Actions = {
  default: async ({ request, cookies, url, getClientAddress }) => {
    const form = await request.formData();
    const email = String(form.get('email') ?? '');
    const password = String(form.get('password') ?? '');
    const redirectTo = safeRedirect(String(form.get('redirectTo') ?? '') || url.searchParams.get('redirectTo'));
    let user: { id: string };
    try {
      user = await logIn({ email, password, clientAddress: getClientAddress() });
    } catch (error) {
      if (error instanceof AppError) return fail(error.status, { email, message: error.message });
      throw error;
    }
    const { token, session } = await createSession(user.id);
    setSessionCookie(cookies, token, session.expiresAt);
    redirect(303, await landingPath(user.id, redirectTo));
  },
};
