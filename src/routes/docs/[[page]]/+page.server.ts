import { error } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { landingPath } from '$lib/server/auth/landing.ts';
import { listDocs, renderDoc } from '$lib/server/docs/render-doc.ts';

export const load: PageServerLoad = async ({ params, locals, url }) => {
  const team = locals.user ? (await landingPath(locals.user.id)).slice(1) || null : null;
  const doc = renderDoc(params.page ?? 'index', { team, origin: url.origin });
  if (!doc) error(404, { message: `No docs page \`${params.page}\`.` });
  return { doc, pages: listDocs(), team, signedIn: !!locals.user };
};
