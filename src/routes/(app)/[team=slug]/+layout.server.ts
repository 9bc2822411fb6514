import { error, redirect } from '@sveltejs/kit';
import type { LayoutServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';
import { TRPCError } from '@trpc/server';

export const load: LayoutServerLoad = async (event) => {
  const { locals, url, params } = event;
  if (!locals.user) redirect(303, `/login?redirectTo=${encodeURIComponent(url.pathname + url.search)}`);
  const api = await serverCaller(event);
  const [team, teams] = await ifFound(Promise.all([api.team.get({ team: params.team }), api.team.list()]), () =>
    error(404, { message: `No team \`${params.team}\`.` }),
  ).catch((e: unknown) => {
    // The team requires two-factor authentication and this person has not turned it on: say so, with the way there.
    if (e instanceof TRPCError && (e.cause as { details?: { twoFactorRequired?: boolean } } | undefined)?.details?.twoFactorRequired) error(403, { message: e.message, code: 'two_factor_required' });
    throw e;
  });
  return { user: locals.user, team, teams };
};
