// Authorization rows for the `team` router.
import { expecting, unique, type MatrixRows } from './world.ts';

export const teamRows: MatrixRows = {
  'team.list': { input: () => undefined, expect: expecting('personOnly') },
  'team.get': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'team.firstRun': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'team.storage': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'team.create': { input: () => ({ slug: unique('new') }), expect: expecting('personOnly') },
  'team.rename': { input: (w) => ({ team: w.team.slug, name: 'Renamed' }), expect: expecting('adminUp') },
  'team.update': { input: (w) => ({ team: w.team.slug, autoCreateStreams: false }), expect: expecting('adminUp') },
  'team.delete': { input: (w) => ({ team: w.team.slug, confirm: w.team.slug }), expect: expecting('ownerOnly') },
  'team.transferOwnership': { input: (w) => ({ team: w.team.slug, userId: w.users.member.id }), expect: expecting('ownerOnly') },
  'team.signingSecret': { input: (w) => ({ team: w.team.slug }), expect: expecting('adminUp') },
  'team.rotateSigningSecret': { input: (w) => ({ team: w.team.slug }), expect: expecting('adminUp') },
};
