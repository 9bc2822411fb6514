// Fire-and-forget signals, merged per key until the next turn of the event loop: many appends to
// one stream within a tick cost one wake-up. Nothing waits on a signal; `drain()` lets shutdown
// send what is pending.

export type Coalescer<V> = { add(key: string, value: V): void; drain(): Promise<void> };

export function coalescer<V>(send: (entries: [string, V][]) => Promise<unknown>, merge: (a: V, b: V) => V = (_a, b) => b): Coalescer<V> {
  let pending = new Map<string, V>();
  let inFlight = new Set<Promise<unknown>>();
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.size === 0) return;
    const entries = [...pending];
    pending = new Map();
    const sent = send(entries).catch(() => {});
    inFlight.add(sent);
    void sent.finally(() => inFlight.delete(sent));
  };
  return {
    add(key, value) {
      const prior = pending.get(key);
      pending.set(key, prior === undefined ? value : merge(prior, value));
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async drain() {
      flush();
      const waiting = [...inFlight];
      inFlight = new Set();
      await Promise.allSettled(waiting);
    },
  };
}
