import { error, redirect } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { LayoutServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

export const load: LayoutServerLoad = async (event) => {
  const { locals, url, params } = event;
  if (!locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  const api = await serverCaller(event);
  try {
    const [team, teams] = await Promise.all([api.team.get({ team: params.team }), api.team.list()]);
    return { user: locals.user, team, teams };
  } catch (e) {
    if (e instanceof TRPCError && e.code === 'NOT_FOUND') error(404, { message: `No team \`${params.team}\`.` });
    throw e;
  }
};
