import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

export const load: PageServerLoad = async (event) => {
  const api = await serverCaller(event);
  return { recipes: await api.recipe.list() };
};
