// Form submissions: a count, the latest submission, and (with `digestTo`) an email digest of what
// arrived, at most one every `digestHours`. The digest's timer is an event in the stream itself.
import { z } from 'zod';
import { lit, type Recipe } from './recipe.ts';
import { Slug } from '../../schemas/vocabulary.ts';

const Params = z.object({
  stream: Slug.default('form'),
  digestTo: z.string().email().optional(),
  digestHours: z.number().positive().max(24 * 31).default(24),
  subject: z.string().min(1).max(200).default('New form submissions'),
});

export const formSubmissions: Recipe<typeof Params> = {
  name: 'form-submissions',
  title: 'Form submissions',
  description:
    'Point an HTML form at the stream. State: count, latest, and the submissions since the last digest. With `digestTo`, ' +
    'the first submission after a digest schedules the next one `digestHours` later (a {"_pipet":"digest"} event).',
  params: Params,
  build(p) {
    const code = `(state, event, index, stream) => {
  const DIGEST_TO = ${lit(p.digestTo ?? null)};
  const DELAY_MS = ${lit(Math.round(p.digestHours * 3_600_000))};
  const SUBJECT = ${lit(p.subject)};
  if (event !== null && typeof event === 'object' && event._pipet === 'digest') {
    if (state.pending.length) {
      const lines = state.pending.map((s) => '#' + s.index + ' at ' + s.receivedAt + ': ' + JSON.stringify(s.body));
      email({ to: DIGEST_TO, subject: SUBJECT + ' (' + state.pendingCount + ')', text: lines.join('\\n') + (state.pendingCount > state.pending.length ? '\\n…and ' + (state.pendingCount - state.pending.length) + ' more.' : '') + '\\n\\n' + stream.length + ' in total so far.' });
    }
    state.pending = [];
    state.pendingCount = 0;
    state.digestScheduled = false;
    return state;
  }
  const submission = { index, receivedAt: new Date().toISOString(), body: event };
  state.count += 1;
  state.latest = submission;
  if (DIGEST_TO) {
    state.pendingCount += 1;
    if (state.pending.length < 50) state.pending.push(submission);
    if (!state.digestScheduled) {
      schedule(DELAY_MS, { _pipet: 'digest' });
      state.digestScheduled = true;
    }
  }
  return state;
}`;
    return {
      streams: [{ slug: p.stream, name: 'Form submissions' }],
      reducers: [{ stream: p.stream, name: 'submissions', code, initialState: { count: 0, latest: null, pending: [], pendingCount: 0, digestScheduled: false } }],
    };
  },
};
