// Authorization rows for the `apiKey` router.
import { expecting, type MatrixRows } from './world.ts';

export const apiKeyRows: MatrixRows = {
  'apiKey.create': { input: (w) => ({ team: w.team.slug, name: 'ci', scopes: ['ingest', 'read'] }), expect: expecting('adminUp') },
  'apiKey.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('adminUp') },
  // Handed over to a person: a manage key has no one to hand it to.
  'apiKey.handOver': { input: (w) => ({ team: w.team.slug, id: w.keys.spareId }), expect: expecting('adminUp', { manageKey: 'FORBIDDEN' }) },
  'apiKey.revoke': { input: (w) => ({ team: w.team.slug, id: w.keys.spareId }), expect: expecting('adminUp') },
};
