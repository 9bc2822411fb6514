import { error } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

// A name with no reducer yet opens the editor on a new one of that name.
export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const input = { team: team.slug, stream: event.params.stream };
  const notFound = (e: unknown) => e instanceof TRPCError && e.code === 'NOT_FOUND';
  const stream = await api.stream.get(input).catch((e) => {
    if (notFound(e)) error(404, { message: `No stream \`${input.stream}\` in this team.` });
    throw e;
  });
  const reducer = await api.reducer.get({ ...input, name: event.params.name }).catch((e) => {
    if (notFound(e)) return null;
    throw e;
  });
  return { stream, name: event.params.name, reducer };
};
