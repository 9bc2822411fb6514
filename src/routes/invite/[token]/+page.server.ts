import { fail, redirect } from '@sveltejs/kit';
import type { Actions, PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';

export const load: PageServerLoad = async (event) => {
  const api = await serverCaller(event);
  const invite = await ifFound(api.invite.preview({ token: event.params.token }), () => null);
  return { invite, user: event.locals.user, path: event.url.pathname };
};

export const actions: Actions = {
  accept: async (event) => {
    if (!event.locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname)}`);
    const api = await serverCaller(event);
    const accepted = await ifFound(api.invite.accept({ token: event.params.token }), (e) => fail(404, { message: e.message }));
    if ('status' in accepted) return accepted;
    redirect(303, `/${accepted.team.slug}`);
  },
};
