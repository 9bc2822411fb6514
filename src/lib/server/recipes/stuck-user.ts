// Stuck-user email: after N hours, a user who has not finished setup and has not already written
// to support or tweeted gets one email naming the steps they did and the docs they read.
import { z } from 'zod';
import { KEY_BY_USER, lit, type Recipe } from './recipe.ts';
import { Slug } from '../../schemas/vocabulary.ts';

const Params = z.object({
  stream: Slug.default('onboarding'),
  hours: z.number().positive().max(24 * 90).default(24),
  doneStep: z.string().min(1).max(100).default('first_event_sent'),
  // `ada@acme.example` or `Acme <ada@acme.example>`
  from: z.string().max(320).regex(/^(?:[^<>\r\n]{1,100} <[^\s@<>]+@[^\s@<>]+>|[^\s@<>]+@[^\s@<>]+)$/, 'an address, or a name and <address>').optional(),
  subject: z.string().min(1).max(200).default('Need a hand getting set up?'),
});

export const stuckUser: Recipe<typeof Params> = {
  name: 'stuck-user',
  title: 'Stuck-user email',
  description:
    'Events {type, user, ...}: signup (with email, name), step_completed (step), doc_viewed (doc), support_email, tweet. ' +
    'One state per user (keyed by `user`: read one with GET …/state/stuck-users/{user}). ' +
    'Each signup schedules a check after `hours`; at the check a user who has not completed `doneStep` and has not ' +
    'written to support or tweeted gets one email naming the steps done and docs read. Everyone else gets none, and ' +
    "the state says why. `from` sets the team's sender: replies go to it, and emails come From it once its domain is verified (senderDomain).",
  params: Params,
  build(p) {
    // Keyed by user: `u` is this user's own state, so the cost of an event never grows with the users.
    const code = `(u, event, index, stream) => {
  const DELAY_MS = ${lit(Math.round(p.hours * 3_600_000))};
  const DONE_STEP = ${lit(p.doneStep)};
  const SUBJECT = ${lit(p.subject)};
  const id = stream.key;
  const now = new Date().toISOString();
  const list = (items) => items.length === 1 ? items[0] : items.slice(0, -1).join(', ') + ' and ' + items[items.length - 1];
  switch (event.type) {
    case 'signup':
      if (u.signedUpAt) break;
      u.signedUpAt = now;
      u.email = typeof event.email === 'string' ? event.email : (id.includes('@') ? id : null);
      u.name = typeof event.name === 'string' ? event.name : null;
      schedule(DELAY_MS, { type: 'stuck_check', user: id });
      break;
    case 'step_completed':
      if (typeof event.step === 'string' && !u.steps.includes(event.step)) u.steps.push(event.step);
      if (event.step === DONE_STEP) u.done = true;
      break;
    case 'doc_viewed':
      if (typeof event.doc === 'string' && !u.docs.includes(event.doc)) u.docs.push(event.doc);
      break;
    case 'support_email':
    case 'tweet':
      if (!u.reachedOut) u.reachedOut = { via: event.type, at: now, index };
      break;
    case 'stuck_check': {
      if (u.outcome) break;
      if (u.done) u.outcome = 'not emailed: finished setup';
      else if (u.reachedOut) u.outcome = 'not emailed: already reached out (' + (u.reachedOut.via === 'tweet' ? 'tweeted' : 'wrote to support') + ')';
      else if (!u.email) u.outcome = 'not emailed: no email address';
      else {
        const lines = ['Hi ' + (u.name || 'there') + ',', ''];
        lines.push(u.steps.length ? 'So far you have completed ' + list(u.steps) + '.' : 'You signed up but have not completed a setup step yet.');
        if (u.docs.length) lines.push('You have read ' + list(u.docs) + '.');
        lines.push('The next milestone is ' + DONE_STEP + '. If something is in the way, reply to this email: a person reads every answer.');
        email({ to: u.email, subject: SUBJECT, text: lines.join('\\n') });
        u.outcome = 'emailed';
      }
      u.checkedAt = now;
      break;
    }
  }
  return u;
}`;
    return {
      streams: [{ slug: p.stream, name: 'Onboarding' }],
      reducers: [
        {
          stream: p.stream,
          name: 'stuck-users',
          code,
          keyBy: KEY_BY_USER,
          initialState: { email: null, name: null, signedUpAt: null, steps: [], docs: [], reachedOut: null, done: false, outcome: null },
        },
      ],
      team: p.from ? { emailFrom: p.from } : undefined,
    };
  },
};
