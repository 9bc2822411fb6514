import { error, redirect } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';

export const load: LayoutServerLoad = async (event) => {
  const { locals, url, params } = event;
  if (!locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  const api = await serverCaller(event);
  const [team, teams] = await ifFound(Promise.all([api.team.get({ team: params.team }), api.team.list()]), () =>
    error(404, { message: `No team \`${params.team}\`.` }),
  );
  return { user: locals.user, team, teams };
};
