// A state per key: a keyed reducer folds each event into the state of the key its keyBy names,
// exactly once, with per-key history (time travel), per-key timers, a key limit, and keys that can be
// forgotten. States are checked against a per-key Array.prototype.reduce.
import { beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase, makeTeam, uniqueSlug, makeStream } from '../helpers/context.ts';

await useOwnDatabase('keyed_state');
const { db, sql } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { foldStream } = await import('../../src/lib/server/reducers/fold-stream.ts');
const { upsertReducer, resumeReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
const { readReducerState } = await import('../../src/lib/server/reducers/read-state.ts');
const { readKey, listKeys, keyAt, keyHistory } = await import('../../src/lib/server/reducers/read-keys.ts');
const { deleteKey } = await import('../../src/lib/server/reducers/delete-key.ts');
const { closeSandbox } = await import('../../src/lib/server/reducers/sandbox/index.ts');
const { pruneKeyLineages } = await import('../../src/lib/server/reducers/prune-key-lineages.ts');
const { dryRunReducer } = await import('../../src/lib/server/reducers/dry-run-reducer.ts');
const { startReplayPreview, runReplayPreview, readReplayPreview } = await import('../../src/lib/server/reducers/preview-replay.ts');
const { explainEffect } = await import('../../src/lib/server/effects/explain-effect.ts');

let teamId: string;
let teamSlug: string;
beforeAll(async () => {
  ({ id: teamId, slug: teamSlug } = await makeTeam(db()));
  return () => closeSandbox();
});

const COUNT = `(state, event, index, stream) => ({ n: state.n + 1, sum: state.sum + (event.amount || 0), key: stream.key, last: index })`;
const BY_USER = `(event) => event.user`;

async function newStream(events: unknown[]) {
  const stream = await makeStream(db(), { teamId, slug: uniqueSlug('k'), name: 'k' });
  if (events.length) await appendEvents({ streamId: stream.id, bodies: events });
  return stream.id;
}

async function foldAll(streamId: string) {
  while ((await foldStream({ streamId, timeBudgetMs: 60_000 })).more);
}

async function scope(streamId: string, name: string) {
  const view = (await readReducerState({ streamId, name }))!;
  return { view, scope: { streamId, reducerId: view.reducerId, lineage: view.keyed!.lineage } };
}

async function allKeys(streamId: string, name: string) {
  const { scope: s } = await scope(streamId, name);
  const out: [string, unknown][] = [];
  let after: string | null = null;
  do {
    const page = await listKeys({ ...s, after, limit: 7 });
    for (const k of page.keys) out.push([k.key, JSON.parse(k.stateJson)]);
    after = page.next;
  } while (after !== null);
  // fromEntries defines own properties: a key named __proto__ is a key like any other.
  return Object.fromEntries(out) as Record<string, any>;
}

/** The reference: Array.prototype.reduce per key. */
function reference(events: { user?: unknown; amount?: number }[]) {
  const out: Record<string, { n: number; sum: number; key: string; last: number }> = {};
  events.forEach((e, index) => {
    const u = e.user;
    if (u === null || u === undefined) return;
    const key = String(u);
    const s = out[key] ?? { n: 0, sum: 0, key, last: -1 };
    out[key] = { n: s.n + 1, sum: s.sum + (e.amount ?? 0), key, last: index };
  });
  return out;
}

describe('a keyed reducer', () => {
  it('keeps one state per key, equal to a per-key reduce, passing over events with no key', async () => {
    const events = Array.from({ length: 2500 }, (_, i) => (i % 11 === 0 ? { type: 'noise' } : { user: `u${i % 97}`, amount: i % 5 }));
    const streamId = await newStream(events);
    await upsertReducer({ streamId, name: 'users', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    const { view } = await scope(streamId, 'users');
    expect(view.status).toBe('active');
    expect(view.folded).toBe(events.length);
    expect(view.keyed!.keyCount).toBe(97);
    expect(await allKeys(streamId, 'users')).toEqual(reference(events));
    // More events fold into the same keys, and new keys appear.
    const more = [{ user: 'u1', amount: 100 }, { user: 'newcomer', amount: 1 }];
    await appendEvents({ streamId, bodies: more });
    await foldAll(streamId);
    expect(await allKeys(streamId, 'users')).toEqual(reference([...events, ...more]));
    expect((await scope(streamId, 'users')).view.keyed!.keyCount).toBe(98);
  });

  it('reads only the keys a batch touches and writes only those that changed', async () => {
    const streamId = await newStream(Array.from({ length: 300 }, (_, i) => ({ user: `u${i}` })));
    await upsertReducer({ streamId, name: 'seen', code: '(s, e) => (e.same ? s : { n: s.n + 1 })', keyBy: BY_USER, initialState: { n: 0 } });
    await foldAll(streamId);
    const { scope: s } = await scope(streamId, 'seen');
    const before = await sql<{ key: string; updatedAt: Date }>(`SELECT key, "updatedAt" FROM "KeyedState" WHERE "streamId" = $1::uuid ORDER BY key`, [streamId]);
    await appendEvents({ streamId, bodies: [{ user: 'u7' }, { user: 'u9', same: true }] });
    await foldAll(streamId);
    const after = await sql<{ key: string; updatedAt: Date }>(`SELECT key, "updatedAt" FROM "KeyedState" WHERE "streamId" = $1::uuid ORDER BY key`, [streamId]);
    const changed = after.filter((row, i) => row.updatedAt.getTime() !== before[i].updatedAt.getTime()).map((r) => r.key);
    expect(changed).toEqual(['u7']);
    expect(JSON.parse((await readKey({ ...s, key: 'u7' }))!.stateJson)).toEqual({ n: 2 });
    // u9's event changed nothing: its last change is still its first event.
    expect((await readKey({ ...s, key: 'u9' }))!.index).toBe(9);
  });

  it('takes edge-case keys as they are: unicode, /, %, numbers, exactly 512 bytes', async () => {
    const long = 'é'.repeat(256);
    const keys = ['ünïcødé 🦊', 'a/b', '100%', 7, long, 'events', '__proto__'];
    const streamId = await newStream(keys.map((user) => ({ user })));
    await upsertReducer({ streamId, name: 'edge', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    expect(Object.keys(await allKeys(streamId, 'edge')).sort()).toEqual(keys.map(String).sort());
    const { scope: s } = await scope(streamId, 'edge');
    expect(JSON.parse((await readKey({ ...s, key: long }))!.stateJson).key).toBe(long);
    expect(JSON.parse((await readKey({ ...s, key: '7' }))!.stateJson).key).toBe('7');
  });

  it.each([
    ['a 513-byte key', { user: 'x'.repeat(513) }, /longer than 512 bytes/],
    ['an object', { user: {} }, /returned an object/],
  ])('stops at %s with a clear error, and resumes after a fix', async (_what, bad, message) => {
    const streamId = await newStream([{ user: 'ada' }, bad, { user: 'bob' }]);
    await upsertReducer({ streamId, name: 'strict', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    const { view } = await scope(streamId, 'strict');
    expect(view).toMatchObject({ status: 'errored', folded: 1, errorIndex: 1, errorMessage: expect.stringMatching(message) });
    expect(Object.keys(await allKeys(streamId, 'strict'))).toEqual(['ada']);
    // The fix: a key function that passes over what it cannot key. It must replay (keyBy changed).
    await expect(upsertReducer({ streamId, name: 'strict', code: COUNT, keyBy: '(e) => typeof e.user === "string" && e.user.length < 100 ? e.user : null', initialState: { n: 0, sum: 0 } })).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('must replay'),
    });
    await upsertReducer({ streamId, name: 'strict', code: COUNT, keyBy: '(e) => typeof e.user === "string" && e.user.length < 100 ? e.user : null', initialState: { n: 0, sum: 0 }, replay: true });
    await foldAll(streamId);
    const fixed = await scope(streamId, 'strict');
    expect(fixed.view).toMatchObject({ status: 'active', folded: 3, version: 2 });
    expect(Object.keys(await allKeys(streamId, 'strict')).sort()).toEqual(['ada', 'bob']);
  });

  it('names keyBy in the error when keyBy itself throws', async () => {
    const streamId = await newStream([{ user: 'ada' }, { nope: true }]);
    await upsertReducer({ streamId, name: 'thrower', code: COUNT, keyBy: '(e) => { if (!e.user) throw new Error("no user"); return e.user; }', initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    expect((await scope(streamId, 'thrower')).view).toMatchObject({ status: 'errored', folded: 1, errorIndex: 1, errorMessage: 'keyBy: Error: no user' });
  });

  it('stops at the key that crosses the team limit, naming it', async () => {
    const streamId = await newStream(['a', 'b', 'a', 'c', 'd'].map((user) => ({ user })));
    await db().team.update({ where: { id: teamId }, data: { maxKeysPerReducer: 2 } });
    try {
      await upsertReducer({ streamId, name: 'few', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
      await foldAll(streamId);
      const { view } = await scope(streamId, 'few');
      expect(view).toMatchObject({ status: 'errored', folded: 3, errorIndex: 3, errorMessage: expect.stringContaining('its limit (2)') });
      expect(view.keyed!.keyCount).toBe(2);
      // Forgetting a key makes room.
      await deleteKey({ streamId, reducerId: view.reducerId, key: 'b' });
      await resumeReducer({ streamId, reducerId: view.reducerId });
      await foldAll(streamId);
      const after = await scope(streamId, 'few');
      expect(after.view).toMatchObject({ status: 'errored', errorIndex: 4 });
      expect(Object.keys(await allKeys(streamId, 'few')).sort()).toEqual(['a', 'c']);
    } finally {
      await db().team.update({ where: { id: teamId }, data: { maxKeysPerReducer: null } });
    }
  });

  it('keeps every change of a key: its history, and its state as of any event', async () => {
    const events = [{ user: 'ada', amount: 1 }, { user: 'bob', amount: 2 }, { user: 'ada', amount: 3 }, { x: 1 }, { user: 'ada', amount: 4 }];
    const streamId = await newStream(events);
    await upsertReducer({ streamId, name: 'hist', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    const { scope: s } = await scope(streamId, 'hist');
    expect(await keyAt({ ...s, key: 'ada', index: 1 })).toMatchObject({ index: 0 });
    expect(JSON.parse((await keyAt({ ...s, key: 'ada', index: 3 }))!.stateJson)).toMatchObject({ n: 2, sum: 4 });
    expect(await keyAt({ ...s, key: 'bob', index: 0 })).toBeNull();
    const { changes } = await keyHistory({ ...s, key: 'ada', limit: 10 });
    expect(changes.map((c) => [c.index, JSON.parse(c.stateJson).sum, JSON.parse(c.eventJson!).amount])).toEqual([
      [4, 8, 4],
      [2, 4, 3],
      [0, 1, 1],
    ]);
  });

  it('continues from here with new code and the same keyBy, keeping every key', async () => {
    const streamId = await newStream([{ user: 'ada' }, { user: 'bob' }]);
    await upsertReducer({ streamId, name: 'cont', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    await upsertReducer({ streamId, name: 'cont', code: '(s, e) => ({ ...s, n: s.n + 10 })', keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await appendEvents({ streamId, bodies: [{ user: 'ada' }] });
    await foldAll(streamId);
    const keys = await allKeys(streamId, 'cont');
    expect(keys.ada).toMatchObject({ n: 11 });
    expect(keys.bob).toMatchObject({ n: 1 });
  });

  it('a replay folds into keys of its own while the old ones stay readable, then takes over', async () => {
    const streamId = await newStream([{ user: 'ada' }, { user: 'bob' }, { user: 'ada' }]);
    await upsertReducer({ streamId, name: 'rep', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    await upsertReducer({ streamId, name: 'rep', code: '(s) => ({ n: s.n + 100 })', keyBy: BY_USER, initialState: { n: 0 }, replay: true });
    // Until the replay catches up, the live keys are the old version's.
    expect((await allKeys(streamId, 'rep')).ada).toMatchObject({ n: 2 });
    await foldAll(streamId);
    const { view } = await scope(streamId, 'rep');
    expect(view.replay).toBeNull();
    expect(view.keyed).toMatchObject({ lineage: 2, keyCount: 2 });
    expect(await allKeys(streamId, 'rep')).toEqual({ ada: { n: 200 }, bob: { n: 100 } });
  });

  it('scopes timers to the key: the same timer key for two users is two timers; cancel and delete touch one', async () => {
    const code = `(s, e, i, stream) => {
      if (e.type === 'signup') schedule(3600000, { type: 'check', user: stream.key }, { key: 'check' });
      if (e.type === 'done') cancel('check');
      return { ...s, [e.type]: true };
    }`;
    const streamId = await newStream([
      { type: 'signup', user: 'ada' },
      { type: 'signup', user: 'bob' },
      { type: 'signup', user: 'cy' },
      { type: 'done', user: 'ada' },
    ]);
    await upsertReducer({ streamId, name: 'timers', code, keyBy: BY_USER, initialState: {} });
    // Effects of events already in the stream when the reducer was made are history; make them live.
    await db().reducerState.updateMany({ where: { streamId }, data: { suppressUntil: 0 } });
    await foldAll(streamId);
    const timers = async () =>
      (await db().effect.findMany({ where: { streamId, kind: 'timer' }, orderBy: { eventIndex: 'asc' } })).map((e) => [e.stateKey, e.status]);
    expect(await timers()).toEqual([
      ['ada', 'cancelled'],
      ['bob', 'pending'],
      ['cy', 'pending'],
    ]);
    const { view } = await scope(streamId, 'timers');
    expect(await deleteKey({ streamId, reducerId: view.reducerId, key: 'bob' })).toEqual({ key: 'bob', timersCancelled: 1 });
    expect(await timers()).toEqual([
      ['ada', 'cancelled'],
      ['bob', 'cancelled'],
      ['cy', 'pending'],
    ]);
  });

  it('deleting a key forgets its state and history; a fold that read it before cannot write it back', async () => {
    const streamId = await newStream([{ user: 'ada' }, { user: 'bob' }]);
    await upsertReducer({ streamId, name: 'forget', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    const { view, scope: s } = await scope(streamId, 'forget');
    await deleteKey({ streamId, reducerId: view.reducerId, key: 'ada' });
    expect(await readKey({ ...s, key: 'ada' })).toBeNull();
    expect((await keyHistory({ ...s, key: 'ada', limit: 10 })).changes).toEqual([]);
    expect((await scope(streamId, 'forget')).view.keyed!.keyCount).toBe(1);
    await expect(deleteKey({ streamId, reducerId: view.reducerId, key: 'ada' })).rejects.toMatchObject({ code: 'not_found' });
    // A later event starts the key afresh.
    await appendEvents({ streamId, bodies: [{ user: 'ada', amount: 5 }] });
    await foldAll(streamId);
    expect(JSON.parse((await readKey({ ...s, key: 'ada' }))!.stateJson)).toMatchObject({ n: 1, sum: 5 });
    // The commit's epoch guard: a batch folded against the epoch before a delete is refused.
    const [row] = await sql<{ ok: boolean }>(
      `SELECT pipet_commit_keyed_fold($1::uuid, $2::uuid, false, 4, 1, 3, NULL, NULL, NULL, $3::uuid, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', 1, 0, '{ada}', '{"{}"}', '{3}', '{}', '{}', '{}') AS ok`,
      [streamId, view.reducerId, teamId],
    );
    expect(row.ok).toBe(false);
  });

  it('refuses a keyBy that does not compile, before saving', async () => {
    const streamId = await newStream([]);
    await expect(upsertReducer({ streamId, name: 'bad', code: COUNT, keyBy: '(e) => {', initialState: null })).rejects.toMatchObject({
      code: 'bad_request',
      message: expect.stringContaining('keyBy does not compile'),
    });
    expect(await db().reducer.count({ where: { streamId } })).toBe(0);
  });

  it('prunes the keys of a lineage a replay replaced, and nothing live', async () => {
    const streamId = await newStream([{ user: 'ada' }, { user: 'bob' }]);
    await upsertReducer({ streamId, name: 'old', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await foldAll(streamId);
    await upsertReducer({ streamId, name: 'old', code: COUNT, keyBy: '(e) => "all"', initialState: { n: 0, sum: 0 }, replay: true });
    await foldAll(streamId);
    const lineages = async () => (await sql<{ lineage: number; n: number }>(`SELECT lineage, count(*)::int AS n FROM "KeyedState" WHERE "streamId" = $1::uuid GROUP BY lineage ORDER BY lineage`, [streamId]));
    expect(await lineages()).toEqual([{ lineage: 1, n: 2 }, { lineage: 2, n: 1 }]);
    await pruneKeyLineages();
    expect(await lineages()).toEqual([{ lineage: 2, n: 1 }]);
    expect(await sql(`SELECT 1 FROM "KeyedChange" WHERE "streamId" = $1::uuid AND lineage = 1`, [streamId])).toEqual([]);
    expect(await allKeys(streamId, 'old')).toEqual({ all: { n: 2, sum: 0, key: 'all', last: 1 } });
  });

  it('dry-runs keyed code: each event with its key and that key\'s state, and every touched key', async () => {
    const streamId = await newStream([]);
    const stream = { id: streamId, slug: 'k', length: 0 };
    const run = await dryRunReducer({ team: { id: teamId, slug: teamSlug }, stream, code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 }, events: [{ user: 'ada', amount: 2 }, { x: 1 }, { user: 'ada', amount: 3 }, { user: 'bob' }] });
    expect(run.error).toBeNull();
    expect(run.steps.map((st) => [st.index, 'key' in st ? st.key : undefined, (st.state as { sum?: number } | null)?.sum ?? null])).toEqual([
      [0, 'ada', 2],
      [1, null, null],
      [2, 'ada', 5],
      [3, 'bob', 0],
    ]);
    expect('keys' in run && run.keys).toEqual({ ada: { n: 2, sum: 5, key: 'ada', last: 2 }, bob: { n: 1, sum: 0, key: 'bob', last: 3 } });
  });

  it('previews a keyed replay key by key: old beside new, with the effects it would record', async () => {
    const streamId = await newStream([{ user: 'ada', amount: 1 }, { user: 'bob', amount: 2 }, { user: 'ada', amount: 3 }]);
    const { id: reducerId } = (await upsertReducer({ streamId, name: 'prev', code: COUNT, keyBy: BY_USER, initialState: { n: 0, sum: 0 } })).reducer;
    await foldAll(streamId);
    const code = '(s, e, i, stream) => { if (stream.key === "bob") request("https://hooks.example/bob", { body: {} }); return { n: s.n + 1, sum: s.sum + e.amount * 10, key: stream.key, last: i }; }';
    const started = await startReplayPreview({ streamId, reducerId, code, keyBy: BY_USER, initialState: { n: 0, sum: 0 } });
    await runReplayPreview({ streamId, previewId: started.id });
    const preview = await readReplayPreview({ streamId, previewId: started.id, reducerId });
    expect(preview.status).toBe('done');
    expect(preview.finalState).toEqual({
      keyed: true,
      keys: 2,
      changed: 2,
      added: 0,
      differ: [
        { key: 'ada', old: { n: 2, sum: 4, key: 'ada', last: 2 }, new: { n: 2, sum: 40, key: 'ada', last: 2 } },
        { key: 'bob', old: { n: 1, sum: 2, key: 'bob', last: 1 }, new: { n: 1, sum: 20, key: 'bob', last: 1 } },
      ],
    });
    expect(preview.effects.map((e) => [e.kind, e.eventIndex])).toEqual([['webhook', 1]]);
  });

  it("explains a keyed effect with its key's state before and after the event", async () => {
    const code = '(s, e, i, stream) => { if (e.send) request("https://hooks.example/x", { body: { user: stream.key } }); return { n: s.n + 1 }; }';
    const streamId = await newStream([]);
    const { id: reducerId } = (await upsertReducer({ streamId, name: 'why', code, keyBy: BY_USER, initialState: { n: 0 } })).reducer;
    await appendEvents({ streamId, bodies: [{ user: 'ada' }, { user: 'bob' }, { user: 'ada', send: true }] });
    await foldAll(streamId);
    const effect = await db().effect.findFirstOrThrow({ where: { streamId } });
    expect(effect.stateKey).toBe('ada');
    const cause = await explainEffect({ streamId, reducerId, version: effect.version, eventIndex: effect.eventIndex, stateKey: effect.stateKey });
    expect(cause).toMatchObject({ key: 'ada', event: { index: 2, body: { user: 'ada', send: true } }, stateBefore: { n: 1 }, stateAfter: { n: 2 } });
  });

  it('folds a batch touching many large keys in rounds instead of running out of memory', { timeout: 120_000 }, async () => {
    const users = Array.from({ length: 24 }, (_, i) => ({ user: `big${i}`, grow: 400_000 }));
    const streamId = await newStream(users);
    await upsertReducer({ streamId, name: 'big', code: '(s, e) => ({ text: s.text + "x".repeat(e.grow || 1) })', keyBy: BY_USER, initialState: { text: '' } });
    await foldAll(streamId);
    await appendEvents({ streamId, bodies: users.map((u) => ({ user: u.user })) });
    await foldAll(streamId);
    const { view, scope: s } = await scope(streamId, 'big');
    expect(view).toMatchObject({ status: 'active', folded: 48, errorMessage: null });
    expect(JSON.parse((await readKey({ ...s, key: "big23" }))!.stateJson).text).toHaveLength(400_001);
  });
});
