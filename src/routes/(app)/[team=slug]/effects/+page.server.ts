import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { EFFECT_STATUSES, EffectStatus } from '$lib/schemas/vocabulary.ts';

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const q = event.url.searchParams;
  const status = EffectStatus.safeParse(q.get('status')).data;
  const [effects, emails, activity] = await Promise.all([
    api.effect.list({ team: team.slug, status, cursor: q.get('cursor') ?? undefined, limit: 50 }),
    api.effect.emails({ team: team.slug, limit: 20 }),
    api.effect.activity({ team: team.slug, hours: 24, buckets: 48 }),
  ]);
  return { status: status ?? null, effects, emails, activity, statuses: EFFECT_STATUSES };
};
