// The landing page's playground: a public-read, public-write stream with a counter reducer on this
// very server, created on first use and left alone after that. Anyone may POST to it without a key;
// the public-stream rate limit (per client address) applies as to any public stream.
import { db as defaultDb, type Db } from '../db/client.ts';
import { env } from '../env.ts';
import { upsertReducer } from '../reducers/manage-reducer.ts';
import { newSigningSecret } from '../teams/create-team.ts';
import { streamIdFor } from '../streams/stream-id.ts';

export const DEMO_REDUCER = 'counter';
export const DEMO_BUTTONS = ['ship', 'like', 'bug'] as const;

export const DEMO_CODE = `// Counts clicks per button (anything else is "other") and remembers the last event.
(state, event, index) => {
  const button = event && typeof event === 'object' ? event.button : null;
  const key = ${JSON.stringify(DEMO_BUTTONS)}.includes(button) ? button : 'other';
  return { ...state, total: state.total + 1, [key]: state[key] + 1, last: index };
}
`;
export const DEMO_INITIAL = { total: 0, ship: 0, like: 0, bug: 0, other: 0, last: null };

export type Demo = { team: string; stream: string; reducer: string };

/** `DEMO_STREAM` (`team/stream`, default `demo/playground`), or null when set to `off`. */
export function demoLocation(): Demo | null {
  const setting = env().DEMO_STREAM;
  if (setting === 'off') return null;
  const [team, stream] = setting.split('/');
  return { team, stream, reducer: DEMO_REDUCER };
}

export type EnsureDemoOptions = { db?: Db };

/**
 * Creates the demo team, stream and reducer if missing (idempotent, safe to race: a unique
 * violation means another process made it). A team of that name that people belong to is never
 * touched: the demo is then off.
 */
export async function ensureDemo({ db = defaultDb() }: EnsureDemoOptions = {}): Promise<Demo | null> {
  const where = demoLocation();
  if (!where) return null;
  const find = () => db.team.findUnique({ where: { slug: where.team }, select: { id: true, _count: { select: { members: true } } } });
  let team = await find();
  if (!team) {
    await db.team.create({ data: { slug: where.team, name: 'Pipet demo', signingSecret: newSigningSecret(), autoCreateStreams: false } }).catch(() => undefined);
    team = await find();
  }
  if (!team || team._count.members > 0) return null;
  const settings = { publicRead: true, publicWrite: true };
  const id = streamIdFor(where.team, where.stream);
  const stream = await db.stream.upsert({
    where: { id },
    create: { id, teamId: team.id, slug: where.stream, name: 'Playground', ...settings },
    update: settings,
    select: { id: true, reducers: { where: { name: DEMO_REDUCER }, select: { id: true } } },
  });
  if (stream.reducers.length === 0) {
    await upsertReducer({ streamId: stream.id, name: DEMO_REDUCER, code: DEMO_CODE, initialState: DEMO_INITIAL, db }).catch(async (e) => {
      // Two processes racing: the loser finds the reducer there.
      if (!(await db.reducer.findUnique({ where: { streamId_name: { streamId: stream.id, name: DEMO_REDUCER } } }))) throw e;
    });
  }
  return where;
}

let ensured: Promise<Demo | null> | undefined;

/** ensureDemo once per process (retried on the next call if it failed). */
export function demo(): Promise<Demo | null> {
  ensured ??= ensureDemo().catch((e) => {
    ensured = undefined;
    throw e;
  });
  return ensured;
}
