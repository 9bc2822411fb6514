import type { PageServerLoad } from './$types';
import { serverCaller } from '$lib/server/trpc/server-caller.ts';

export const load: PageServerLoad = async (event) => {
  const { team } = await event.parent();
  const api = await serverCaller(event);
  const input = { team: team.slug };
  const admin = team.role !== 'member';
  const [streams, members, keys, invites, firstRun, activity] = await Promise.all([
    // Admins see the team's audit log among the streams, marked (its page is theirs).
    api.stream.list({ ...input, includeSystem: admin }),
    api.member.list(input),
    admin ? api.apiKey.list(input) : [],
    admin ? api.invite.list(input) : [],
    api.team.firstRun(input),
    api.stream.activity(input),
  ]);
  return { streams, members, keys, invites, firstRun, activity, origin: event.url.origin };
};
