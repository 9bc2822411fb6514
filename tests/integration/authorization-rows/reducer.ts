// Authorization rows for the `reducer` router: members and up (and manage keys) manage reducers.
import { expecting, type MatrixRows, type World } from './world.ts';
import { upsertReducer } from '../../../src/lib/server/reducers/manage-reducer.ts';
import { startReplayPreview } from '../../../src/lib/server/reducers/preview-replay.ts';

async function withReducer(w: World, errored = false) {
  const { reducer } = await upsertReducer({ streamId: w.stream.id, name: 'counter', code: '(n) => n + 1', initialState: 0, db: w.db });
  if (errored) {
    await w.db.reducerState.update({ where: { streamId_reducerId: { streamId: w.stream.id, reducerId: reducer.id } }, data: { status: 'errored', errorIndex: 0, errorMessage: 'boom', erroredAt: new Date() } });
  }
  return { team: w.team.slug, stream: w.stream.slug, name: 'counter' };
}

/** A keyed reducer holding one key, `ada` (written as a fold would: the row, its history and the count). */
async function withKey(w: World) {
  const { reducer } = await upsertReducer({ streamId: w.stream.id, name: 'users', code: '(s) => s', keyBy: '(e) => e.user', initialState: {}, db: w.db });
  await w.db.keyedState.create({ data: { streamId: w.stream.id, reducerId: reducer.id, lineage: 1, key: 'ada', state: { n: 1 }, index: 0 } });
  await w.db.keyedChange.create({ data: { streamId: w.stream.id, reducerId: reducer.id, lineage: 1, key: 'ada', index: 0, state: { n: 1 } } });
  await w.db.reducerState.update({ where: { streamId_reducerId: { streamId: w.stream.id, reducerId: reducer.id } }, data: { keyCount: 1, cursor: 1 } });
  return { team: w.team.slug, stream: w.stream.slug, name: 'users', key: 'ada' };
}

export const reducerRows: MatrixRows = {
  'reducer.state': { input: (w) => withKey(w), expect: expecting('anyMember') },
  'reducer.keys': { input: (w) => withKey(w).then(({ key: _k, ...r }) => ({ ...r, prefix: 'a' })), expect: expecting('anyMember') },
  'reducer.keyHistory': { input: (w) => withKey(w), expect: expecting('anyMember') },
  'reducer.deleteKey': { input: (w) => withKey(w), expect: expecting('anyMember') },
  'reducer.keyGrowth': { input: (w) => withKey(w).then(({ key: _k, ...r }) => r), expect: expecting('anyMember') },
  'reducer.list': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug }), expect: expecting('anyMember') },
  'reducer.progress': { input: (w) => withReducer(w).then(({ team, stream }) => ({ team, stream })), expect: expecting('anyMember') },
  'reducer.get': { input: (w) => withReducer(w), expect: expecting('anyMember') },
  'reducer.upsert': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug, name: 'fresh', code: '(s) => s', initialState: 0 }), expect: expecting('anyMember') },
  'reducer.delete': { input: (w) => withReducer(w), expect: expecting('anyMember') },
  'reducer.resume': { input: (w) => withReducer(w, true), expect: expecting('anyMember') },
  'reducer.skip': { input: (w) => withReducer(w, true), expect: expecting('anyMember') },
  'reducer.replay': { input: (w) => withReducer(w), expect: expecting('anyMember') },
  // Nothing is folded in the matrix's world: members reach the reducer and hear that event 0 is not folded yet.
  'reducer.stateAt': { input: (w) => withReducer(w).then((r) => ({ ...r, index: 0 })), expect: expecting('anyMember', { member: 'CONFLICT', admin: 'CONFLICT', owner: 'CONFLICT', manageKey: 'CONFLICT' }) },
  'reducer.previewReplay': { input: (w) => withReducer(w).then((r) => ({ ...r, code: '(n) => n + 2', initialState: 0 })), expect: expecting('anyMember') },
  'reducer.preview': {
    input: async (w) => {
      const r = await withReducer(w);
      const reducer = await w.db.reducer.findFirstOrThrow({ where: { streamId: w.stream.id, name: r.name } });
      const { id } = await startReplayPreview({ streamId: w.stream.id, reducerId: reducer.id, code: '(n) => n + 2', initialState: 0, db: w.db });
      return { ...r, id };
    },
    expect: expecting('anyMember'),
  },
  'reducer.dryRun': { input: (w) => ({ team: w.team.slug, stream: w.stream.slug, code: '(n) => n + 1', initialState: 0, events: [1, 2] }), expect: expecting('anyMember') },
};
