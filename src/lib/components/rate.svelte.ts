// Turns successive readings of a counter (events folded, stamped with the server's clock) into a
// rate per second and a short history, for fold rates, lag over time and a replay's ETA.
import { untrack } from 'svelte';

type Sample = { at: number; value: number; lag: number };

export class RateTracker {
  #samples = $state<Record<string, Sample[]>>({});
  readonly keepMs: number;
  constructor(keepMs = 120_000) {
    this.keepMs = keepMs;
  }

  /** Records a reading (never a dependency of the effect that calls it). */
  add(key: string, at: Date | string | number, value: number, lag = 0) {
    const t = new Date(at).getTime();
    untrack(() => {
      const list = [...(this.#samples[key] ?? []), { at: t, value, lag }].filter((s) => s.at > t - this.keepMs);
      this.#samples[key] = list;
    });
  }

  /** Events a second over the last `windowMs` (null until two readings exist). */
  rate(key: string, windowMs = 10_000): number | null {
    const list = this.#samples[key] ?? [];
    if (list.length < 2) return null;
    const last = list[list.length - 1];
    const first = list.find((s) => s.at >= last.at - windowMs) ?? list[0];
    if (first === last) return null;
    return Math.max(0, (last.value - first.value) / ((last.at - first.at) / 1000));
  }

  /** Per-reading deltas (events folded between readings) and lags, oldest first. */
  history(key: string): { t: number; n: number; lag: number }[] {
    const list = this.#samples[key] ?? [];
    return list.slice(1).map((s, i) => ({ t: s.at, n: Math.max(0, s.value - list[i].value), lag: s.lag }));
  }

  /** Seconds until `target` at the current rate (null when unknown or stalled). */
  eta(key: string, target: number): number | null {
    const list = this.#samples[key] ?? [];
    const r = this.rate(key, 30_000);
    if (!r || !list.length) return null;
    return Math.max(0, (target - list[list.length - 1].value) / r);
  }
}
