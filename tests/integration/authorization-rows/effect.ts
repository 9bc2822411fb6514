// Authorization rows for the `effect` router: any member (or manage key) sees and retries effects.
import { expecting, unique, type MatrixRows, type World } from './world.ts';
import { upsertReducer } from '../../../src/lib/server/reducers/manage-reducer.ts';

async function withFailedEffect(w: World) {
  const { reducer } = await upsertReducer({ streamId: w.stream.id, name: 'hooks', code: '(s) => s', initialState: 0, db: w.db });
  const id = unique('eff');
  await w.db.effect.create({
    data: { id, teamId: w.team.id, streamId: w.stream.id, reducerId: reducer.id, version: 1, eventIndex: 0, ordinal: 0, kind: 'webhook', payload: { url: 'https://example.com/', method: 'POST', headers: {}, body: {} }, status: 'failed', attempts: 8, lastError: 'HTTP 500' },
  });
  return id;
}

export const effectRows: MatrixRows = {
  'effect.list': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'effect.activity': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
  'effect.get': { input: async (w) => ({ team: w.team.slug, id: await withFailedEffect(w) }), expect: expecting('anyMember') },
  'effect.retry': { input: async (w) => ({ team: w.team.slug, id: await withFailedEffect(w) }), expect: expecting('anyMember') },
  'effect.emails': { input: (w) => ({ team: w.team.slug }), expect: expecting('anyMember') },
};
