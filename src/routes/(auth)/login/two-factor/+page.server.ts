// The log-in's second step, for an account with two-factor on: the session exists but signs nobody
// in (hooks.server.ts) until a code from the authenticator app, or a recovery code, is given here.
import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { landingPath } from '$lib/server/auth/landing.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';
import { verifySessionSecondFactor } from '$lib/server/auth/two-factor.ts';
import { AppError } from '$lib/server/errors.ts';

export const load: PageServerLoad = async ({ locals, url }) => {
  const redirectTo = sameOriginPath(url.searchParams.get('redirectTo'), url.origin);
  if (locals.user) redirect(303, await landingPath(locals.user.id, { redirectTo, origin: url.origin }));
  if (!locals.twoFactorPending) redirect(303, redirectTo ? `/login?redirectTo=${encodeURIComponent(redirectTo)}` : '/login');
  return { email: locals.twoFactorPending.email, redirectTo };
};

export const actions: Actions = {
  default: async ({ request, locals, url }) => {
    const pending = locals.twoFactorPending;
    if (!pending || !locals.session) redirect(303, '/login');
    const form = await request.formData();
    const code = String(form.get('code') ?? '');
    const redirectTo = String(form.get('redirectTo') ?? '') || url.searchParams.get('redirectTo');
    try {
      if (!code.trim()) throw new AppError('bad_request', 'Enter the 6-digit code from your authenticator app, or a recovery code.');
      await verifySessionSecondFactor({ userId: pending.id, sessionId: locals.session.id, code });
    } catch (error) {
      if (error instanceof AppError) return fail(error.status, { message: error.message });
      throw error;
    }
    redirect(303, await landingPath(pending.id, { redirectTo, origin: url.origin }));
  },
};
