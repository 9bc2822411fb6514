import { error, fail, redirect } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { Actions, PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';

/** A link no invite could have (a token over 128 characters, a NUL): 400, not a 500. */
function refuseBadLink(e: unknown): never {
  if (e instanceof TRPCError && e.code === 'BAD_REQUEST') error(400, { message: 'This is not an invite link: invite tokens are at most 128 characters of text.' });
  throw e;
}

export const load: PageServerLoad = async (event) => {
  const api = await serverCaller(event);
  const invite = await ifFound(api.invite.preview({ token: event.params.token }), () => null).catch(refuseBadLink);
  // Whether the signed-in account may accept: the invited address, and verified.
  const verified = event.locals.user && invite?.forYou ? (await api.account.get()).verified : false;
  return { invite, user: event.locals.user ? { email: event.locals.user.email } : null, verified, path: event.url.pathname };
};

export const actions: Actions = {
  accept: async (event) => {
    if (!event.locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname)}`);
    const api = await serverCaller(event);
    let accepted;
    try {
      accepted = await ifFound(api.invite.accept({ token: event.params.token }), (e) => fail(404, { message: e.message }));
    } catch (e) {
      // Another account, or this one before its address is verified: say so, change nothing.
      if (e instanceof TRPCError && e.code === 'FORBIDDEN') return fail(403, { message: e.message });
      refuseBadLink(e);
    }
    if ('status' in accepted) return accepted;
    redirect(303, `/${accepted.team.slug}`);
  },
};
