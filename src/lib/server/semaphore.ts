// At most `limit()` holders at once in this process; the rest wait in arrival order. Used where a
// shared resource (the database pool) must keep room for everyone else.

export type Semaphore = {
  /** Resolves with a release function once a place is free; rejects if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<() => void>;
  /** Holders and waiters right now (tests, diagnostics). */
  load(): { held: number; waiting: number };
};

export function createSemaphore(limit: () => number): Semaphore {
  let held = 0;
  const waiting: { grant: () => void }[] = [];
  const release = () => {
    held--;
    const next = waiting.shift();
    if (next) next.grant();
  };
  const releaser = () => {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      release();
    };
  };
  return {
    acquire(signal) {
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (held < limit()) {
        held++;
        return Promise.resolve(releaser());
      }
      return new Promise((resolve, reject) => {
        const entry = {
          grant: () => {
            signal?.removeEventListener('abort', onAbort);
            held++;
            resolve(releaser());
          },
        };
        const onAbort = () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          reject(signal?.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiting.push(entry);
      });
    },
    load: () => ({ held, waiting: waiting.length }),
  };
}
