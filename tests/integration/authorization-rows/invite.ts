// Authorization rows for the `invite` router.
import { expecting, unique, type MatrixRows } from './world.ts';

export const inviteRows: MatrixRows = {
  'invite.create': { input: (w) => ({ team: w.team.slug, email: `${unique('new')}@example.com`, role: 'member' }), expect: expecting('adminUp') },
  'invite.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('adminUp') },
  'invite.revoke': { input: (w) => ({ team: w.team.slug, id: w.invite.id }), expect: expecting('adminUp') },
  // The token is the credential: anyone holding the link may see what it invites to.
  'invite.preview': { input: (w) => ({ token: w.invite.token }), expect: expecting('everyone') },
  'invite.accept': { input: (w) => ({ token: w.invite.token }), expect: expecting('personOnly') },
};
