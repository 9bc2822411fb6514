// Authorization rows for the `member` router.
import { expecting, type MatrixRows } from './world.ts';

export const memberRows: MatrixRows = {
  'member.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'member.keys': { input: (w) => ({ team: w.team.slug, userId: w.users.target.id }), expect: expecting('adminUp') },
  'member.updateRole': { input: (w) => ({ team: w.team.slug, userId: w.users.target.id, role: 'admin' }), expect: expecting('adminUp') },
  'member.remove': { input: (w) => ({ team: w.team.slug, userId: w.users.target.id }), expect: expecting('adminUp') },
  // The world's owner is the team's only owner, who may not leave; a key is no member to leave.
  'member.leave': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember', { owner: 'BAD_REQUEST', manageKey: 'FORBIDDEN' }) },
};
