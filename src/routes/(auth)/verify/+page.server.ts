// Entering the code that proves the account's address (or the new address it is changing to). The
// emailed link lands here with ?code= filled in; the code is checked only when the form is posted.
import { fail, redirect } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { Actions, PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { landingPath } from '$lib/server/auth/landing.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';

export const load: PageServerLoad = async (event) => {
  const { locals, url } = event;
  if (!locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  const status = await (await serverCaller(event)).account.get();
  const redirectTo = sameOriginPath(url.searchParams.get('redirectTo'), url.origin);
  return { status, code: (url.searchParams.get('code') ?? '').slice(0, 16), redirectTo, next: await landingPath(locals.user.id, { redirectTo, origin: url.origin }) };
};

/** A refusal from the API, shown on the form; anything else is a real error. */
function refused(e: unknown, code = '') {
  if (!(e instanceof TRPCError)) throw e;
  const status = e.code === 'TOO_MANY_REQUESTS' ? 429 : e.code === 'CONFLICT' ? 409 : e.code === 'NOT_FOUND' ? 404 : 400;
  return fail(status, { message: e.message, code });
}

export const actions: Actions = {
  verify: async (event) => {
    if (!event.locals.user) redirect(303, '/login');
    const form = await event.request.formData();
    const code = String(form.get('code') ?? '');
    try {
      await (await serverCaller(event)).account.verifyEmail({ code: code.slice(0, 64) });
    } catch (e) {
      return refused(e, code);
    }
    const redirectTo = String(form.get('redirectTo') ?? '') || null;
    redirect(303, await landingPath(event.locals.user.id, { redirectTo, origin: event.url.origin }));
  },
  resend: async (event) => {
    if (!event.locals.user) redirect(303, '/login');
    try {
      const sent = await (await serverCaller(event)).account.resendVerification();
      return { sent: sent.email };
    } catch (e) {
      return refused(e);
    }
  },
};
