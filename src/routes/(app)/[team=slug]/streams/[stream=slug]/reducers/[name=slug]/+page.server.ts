import { error } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';

// A name with no reducer yet opens the editor on a new one of that name (?template=counter
// starts it as a counter, as the first-run checklist does).
export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const input = { team: team.slug, stream: event.params.stream };
  const stream = await ifFound(api.stream.get(input), () => error(404, { message: `No stream \`${input.stream}\` in this team.` }));
  const reducer = await ifFound(api.reducer.get({ ...input, name: event.params.name }), () => null);
  return { stream, name: event.params.name, reducer, template: event.url.searchParams.get('template') };
};
