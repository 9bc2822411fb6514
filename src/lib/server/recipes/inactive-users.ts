// Inactive for N hours: each user's activity re-arms one keyed timer (a debounce), so a user who
// goes quiet gets one `inactive` event N hours after their *last* event — and, if asked, one
// webhook or email — while a user who keeps coming back never does.
import { z } from 'zod';
import { KEY_BY_USER, lit, type Recipe } from './recipe.ts';
import { Slug } from '../../schemas/vocabulary.ts';

const Params = z.object({
  stream: Slug.default('activity'),
  hours: z.number().positive().max(24 * 365).default(24),
  url: z.string().url().refine((u) => /^https?:/.test(u), 'an http(s) URL').optional(),
  email: z.boolean().default(false),
  subject: z.string().min(1).max(200).default('We miss you'),
});

export const inactiveUsers: Recipe<typeof Params> = {
  name: 'inactive-users',
  title: 'Inactive for N hours',
  description:
    "Events {user, email?, ...}: each re-arms the user's timer, schedule(hours, {type: 'inactive'}, {key}) — a debounce, so it fires once, " +
    "`hours` after the user's last event. Then the user's state records them as inactive and, if set, `url` gets a webhook and the user (with an email) one email. " +
    'One state per user (keyed by `user`: GET …/state/inactive/{user}). ' +
    'Activity after that makes them active again.',
  params: Params,
  build(p) {
    // Keyed by user: `u` is this user's state, and the timer key `inactive` is this user's own.
    const code = `(u, event, index, stream) => {
  const DELAY_MS = ${lit(Math.round(p.hours * 3_600_000))};
  const URL = ${lit(p.url ?? null)};
  const EMAIL = ${lit(p.email)};
  const SUBJECT = ${lit(p.subject)};
  const id = stream.key;
  if (event.type === 'inactive') {
    // A timer that fired: only the latest one for this user can (the others were replaced).
    u.inactiveSince = new Date().toISOString();
    u.nudges += 1;
    if (URL !== null) request(URL, { body: { user: id, lastSeenAt: u.lastSeenAt, inactiveSince: u.inactiveSince } });
    if (EMAIL && u.email) email({ to: u.email, subject: SUBJECT, text: 'Hi! It has been a while since we saw you.' });
    return u;
  }
  u.lastSeenAt = new Date().toISOString();
  if (typeof event.email === 'string') u.email = event.email;
  u.inactiveSince = null;
  schedule(DELAY_MS, { type: 'inactive', user: id }, { key: 'inactive' });
  return u;
}`;
    return {
      streams: [{ slug: p.stream, name: p.stream }],
      reducers: [{ stream: p.stream, name: 'inactive', code, keyBy: KEY_BY_USER, initialState: { lastSeenAt: null, email: null, inactiveSince: null, nudges: 0 } }],
    };
  },
};
