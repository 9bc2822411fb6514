import { error } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { ifFound } from '$lib/server/trpc/if-found.ts';

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const input = { team: team.slug, stream: event.params.stream };
  const [stream, reducers, activity, progress] = await ifFound(
    Promise.all([api.stream.get(input), api.reducer.list(input), api.stream.activity(input), api.reducer.progress(input)]),
    () => error(404, { message: `No stream \`${event.params.stream}\` in this team.` }),
  );
  return { stream, reducers, activity, progress, origin: event.url.origin };
};
