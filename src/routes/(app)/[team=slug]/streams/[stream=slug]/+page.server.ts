import { error } from '@sveltejs/kit';
import { TRPCError } from '@trpc/server';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const input = { team: team.slug, stream: event.params.stream };
  try {
    const [stream, reducers] = await Promise.all([api.stream.get(input), api.reducer.list(input)]);
    return { stream, reducers };
  } catch (e) {
    if (e instanceof TRPCError && e.code === 'NOT_FOUND') error(404, { message: `No stream \`${event.params.stream}\` in this team.` });
    throw e;
  }
};
