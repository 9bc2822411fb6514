// A circuit breaker per destination (a webhook's host): after `failures` consecutive failures that
// are the destination's fault (timeouts, refused connections, 5xx, 429), attempts to it pause for
// `openMs` (doubling while it keeps failing, up to `maxOpenMs`); then one probe goes through, and
// its outcome closes or reopens the circuit. A dead target then costs its team nothing but the
// probes, and costs other teams nothing at all. State is per worker process.

export type BreakerOptions = {
  failures: number;
  openMs: number;
  maxOpenMs: number;
  now?: () => number;
  /** Destinations remembered at most, the least recently failed first out: any reducer can name new hosts. */
  maxCircuits?: number;
};

type Circuit = { failures: number; openMs: number; openUntil: number; probing: boolean };

export class CircuitBreaker {
  private readonly circuits = new Map<string, Circuit>();
  private readonly options: Required<BreakerOptions>;

  constructor(options: BreakerOptions) {
    this.options = { now: Date.now, maxCircuits: 10_000, ...options };
  }

  /** When `key` may be called again, or null if it may be called now (a probe, when half-open). */
  pausedUntil(key: string): number | null {
    const c = this.circuits.get(key);
    if (!c || c.openUntil === 0) return null;
    const now = this.options.now();
    if (now < c.openUntil) return c.openUntil;
    if (c.probing) return now + Math.min(1_000, this.options.openMs);
    c.probing = true;
    return null;
  }

  /** Records an attempt's outcome: `healthy` means the destination answered like a server should. */
  record(key: string, healthy: boolean): void {
    const c = this.circuits.get(key) ?? { failures: 0, openMs: 0, openUntil: 0, probing: false };
    c.probing = false;
    if (healthy) {
      this.circuits.delete(key);
      return;
    }
    c.failures += 1;
    if (c.failures >= this.options.failures) {
      c.openMs = c.openMs === 0 ? this.options.openMs : Math.min(c.openMs * 2, this.options.maxOpenMs);
      c.openUntil = this.options.now() + c.openMs;
    }
    this.circuits.delete(key);
    this.circuits.set(key, c);
    for (const oldest of this.circuits.keys()) {
      if (this.circuits.size <= this.options.maxCircuits) break;
      this.circuits.delete(oldest);
    }
  }

  /** How many destinations it remembers. */
  get size(): number {
    return this.circuits.size;
  }

  failuresOf(key: string): number {
    return this.circuits.get(key)?.failures ?? 0;
  }
}

/** Whether an attempt's outcome counts against its destination. */
export function destinationFailed(attempt: { result: string; statusCode?: number }): boolean {
  if (attempt.result === 'delivered') return false;
  if (attempt.statusCode === undefined) return attempt.result === 'retryable';
  return attempt.statusCode >= 500 || attempt.statusCode === 429;
}
