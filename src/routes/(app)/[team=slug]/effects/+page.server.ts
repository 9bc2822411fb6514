import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

const STATUSES = ['pending', 'delivered', 'failed', 'suppressed'] as const;
type Status = (typeof STATUSES)[number];

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const q = event.url.searchParams;
  const status = STATUSES.includes(q.get('status') as Status) ? (q.get('status') as Status) : undefined;
  const [effects, emails] = await Promise.all([
    api.effect.list({ team: team.slug, status, cursor: q.get('cursor') ?? undefined, limit: 50 }),
    api.effect.emails({ team: team.slug, limit: 20 }),
  ]);
  return { status: status ?? null, effects, emails, statuses: STATUSES };
};
