// The team's audit log for its admins: filtered by action, actor and day through audit.list.
import { error } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';
import { AUDIT_ACTIONS, AuditAction } from '$lib/server/audit/audit-entry.ts';
import { AUDIT_STREAM_SLUG } from '$lib/server/audit/audit-stream.ts';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  if (team.role === 'member') error(403, { message: `The audit log of team \`${team.slug}\` is for its admins.` });
  const q = event.url.searchParams;
  const action = AuditAction.safeParse(q.get('action')).data;
  const actor = q.get('actor')?.trim().slice(0, 320) || undefined;
  // A day (the date input's YYYY-MM-DD, in UTC): entries up to its end.
  const day = DAY.test(q.get('day') ?? '') && !Number.isNaN(Date.parse(`${q.get('day')}T00:00:00Z`)) ? q.get('day')! : undefined;
  const until = day ? new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000) : undefined;
  const before = /^\d{1,10}$/.test(q.get('before') ?? '') ? Number(q.get('before')) : undefined;
  const api = await serverCaller(event);
  const log = await api.audit.list({ team: team.slug, action, actor, until, before, limit: 50 });
  return { log, filters: { action: action ?? null, actor: actor ?? '', day: day ?? '' }, actions: AUDIT_ACTIONS, slug: AUDIT_STREAM_SLUG, origin: event.url.origin };
};
