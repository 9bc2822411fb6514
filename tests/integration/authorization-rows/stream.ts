// Authorization rows for the `stream` router.
import { expecting, type MatrixRows } from './world.ts';

export const streamRows: MatrixRows = {
  'stream.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'stream.activity': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug }), expect: expecting('anyMember') },
  'stream.get': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug }), expect: expecting('anyMember') },
  'stream.create': { input: (w) => ({ team: w.team.slug, stream: 'fresh' }), expect: expecting('anyMember') },
  'stream.update': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug, publicRead: true }), expect: expecting('anyMember') },
  'stream.signature': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug }), expect: expecting('adminUp') },
  'stream.setSignature': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug, scheme: 'github' }), expect: expecting('adminUp') },
  'stream.delete': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug, confirm: w.stream.slug }), expect: expecting('adminUp') },
};
