// Fire-and-forget signals (fold wake-ups, live-tail publishes), merged per key: many appends to one
// stream cost one signal. Nothing waits on a signal. One send is in flight at a time; what arrives
// meanwhile waits in a buffer, merged per key, so a Redis that is down, frozen or slow holds one
// batch and a bounded map instead of a pile of commands. Beyond `max` keys the oldest are dropped:
// the sweep repairs a lost wake-up, and live tails re-read PostgreSQL on their safety poll.

export type CoalescerOptions<V> = {
  /** Sends a batch; resolves with the entries it could not send, which wait for the next chance. */
  send(entries: [string, V][]): Promise<[string, V][]>;
  /** How an older value and a newer one for the same key combine (default: the newer). */
  merge?: (older: V, newer: V) => V;
  /** Keys waiting at most; beyond it the oldest are dropped. */
  max?: number;
  /** While true nothing is sent: signals wait until `resume()` (Redis answers again). */
  held?: () => boolean;
};

export type Coalescer<V> = {
  add(key: string, value: V): void;
  /** Sends what waits, at the next turn of the event loop (call when Redis answers again). */
  resume(): void;
  /** Keys waiting now, and how many were dropped over the bound so far. */
  stats(): { waiting: number; dropped: number };
  /** Sends what waits unless held, and waits for the send in flight (shutdown). */
  drain(): Promise<void>;
};

/** Keys a coalescer keeps by default: a few thousand streams' signals, a few hundred kB at most. */
export const COALESCER_MAX = 5_000;

export function coalescer<V>({ send, merge = (_older, newer) => newer, max = COALESCER_MAX, held = () => false }: CoalescerOptions<V>): Coalescer<V> {
  let waiting = new Map<string, V>();
  let inFlight: Promise<void> | undefined;
  let scheduled = false;
  let dropped = 0;

  const trim = () => {
    for (const oldest of waiting.keys()) {
      if (waiting.size <= max) break;
      waiting.delete(oldest);
      dropped += 1;
    }
  };
  // Entries a send gave back are older than whatever arrived meanwhile: they go first, merged.
  const giveBack = (entries: [string, V][]) => {
    if (entries.length === 0) return;
    const next = new Map<string, V>();
    for (const [key, value] of entries) {
      const newer = waiting.get(key);
      next.set(key, newer === undefined ? value : merge(value, newer));
    }
    for (const [key, value] of waiting) if (!next.has(key)) next.set(key, value);
    waiting = next;
    trim();
  };
  // A flush asked for while a send is in flight runs when it ends. Entries given back alone wait
  // for the next signal or resume(): a Redis refusing every command is not retried in a loop.
  let again = false;
  const flush = () => {
    scheduled = false;
    if (inFlight) return void (again = true);
    if (waiting.size === 0 || held()) return;
    const entries = [...waiting];
    waiting = new Map();
    inFlight = send(entries)
      .then(giveBack, () => giveBack(entries))
      .finally(() => {
        inFlight = undefined;
        if (again) {
          again = false;
          schedule();
        }
      });
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(flush);
  };

  return {
    add(key, value) {
      const prior = waiting.get(key);
      waiting.set(key, prior === undefined ? value : merge(prior, value));
      trim();
      schedule();
    },
    resume: schedule,
    stats: () => ({ waiting: waiting.size, dropped }),
    async drain() {
      await inFlight;
      flush();
      await inFlight;
    },
  };
}
