// Threshold alert: a webhook when a running count (or the sum of a numeric field) reaches a value,
// once per crossing — it re-arms when the total falls back below.
import { z } from 'zod';
import { lit, type Recipe } from './recipe.ts';
import { Slug } from '../../schemas/vocabulary.ts';

const Params = z.object({
  stream: Slug.default('metrics'),
  url: z.string().url().refine((u) => /^https?:/.test(u), 'an http(s) URL'),
  threshold: z.number().finite(),
  field: z.string().min(1).max(100).optional(),
});

export const thresholdAlert: Recipe<typeof Params> = {
  name: 'threshold-alert',
  title: 'Threshold alert',
  description: 'Counts events (or sums the numeric `field` of each) and calls `url` once each time the total reaches `threshold`; it re-arms when the total drops below.',
  params: Params,
  build(p) {
    const code = `(state, event, index, stream) => {
  const FIELD = ${lit(p.field ?? null)};
  const THRESHOLD = ${lit(p.threshold)};
  const URL = ${lit(p.url)};
  let delta = 1;
  if (FIELD !== null) {
    const v = event !== null && typeof event === 'object' ? Number(event[FIELD]) : NaN;
    if (!isFinite(v)) return state;
    delta = v;
  }
  state.total += delta;
  if (!state.above && state.total >= THRESHOLD) {
    state.above = true;
    state.crossings += 1;
    state.lastCrossedAt = index;
    request(URL, { body: { stream: stream.team + '/' + stream.name, total: state.total, threshold: THRESHOLD, index, event } });
  } else if (state.above && state.total < THRESHOLD) {
    state.above = false;
  }
  return state;
}`;
    return {
      streams: [{ slug: p.stream, name: p.stream }],
      reducers: [{ stream: p.stream, name: 'threshold', code, initialState: { total: 0, above: false, crossings: 0, lastCrossedAt: null } }],
    };
  },
};
