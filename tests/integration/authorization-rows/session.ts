// Authorization rows for the `session` router: a person's own sessions; keys never.
import { createSession, sessionHandle } from '../../../src/lib/server/auth/sessions.ts';
import { expecting, type CallerName, type MatrixRows, type World } from './world.ts';

/** The person behind a caller of the matrix, if it is one. */
function personOf(w: World, caller: CallerName) {
  return caller === 'nonMember' || caller === 'member' || caller === 'admin' || caller === 'owner' ? w.users[caller] : null;
}

export const sessionRows: MatrixRows = {
  'session.list': { input: () => undefined, expect: expecting('personOnly') },
  'session.end': {
    // One of the caller's own sessions (for keys: the owner's, which they may not touch either).
    input: async (w, caller) => {
      const user = personOf(w, caller) ?? w.users.owner;
      const { session } = await createSession(user.id, w.db);
      return { id: sessionHandle(session.id) };
    },
    expect: expecting('personOnly'),
  },
  'session.endOthers': { input: () => undefined, expect: expecting('personOnly') },
};
