import { fail, redirect } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { Actions, PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

export const load: PageServerLoad = async (event) => {
  const api = await serverCaller(event);
  const invite = await api.invite.preview({ token: event.params.token }).catch((e) => {
    if (e instanceof TRPCError && e.code === 'NOT_FOUND') return null;
    throw e;
  });
  return { invite, user: event.locals.user, path: event.url.pathname };
};

export const actions: Actions = {
  accept: async (event) => {
    if (!event.locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(event.url.pathname)}`);
    const api = await serverCaller(event);
    let team: string;
    try {
      team = (await api.invite.accept({ token: event.params.token })).team.slug;
    } catch (e) {
      if (e instanceof TRPCError && e.code === 'NOT_FOUND') return fail(404, { message: e.message });
      throw e;
    }
    redirect(303, `/${team}`);
  },
};
