// When to try again: the server's Retry-After when it gives one, else exponential backoff with jitter. Pure.

export type RetryPolicy = {
  /** Attempts after the first (default 5). */
  retries: number;
  /** The first backoff, ms (default 250); doubled each attempt. */
  baseMs: number;
  /** No wait is longer than this, ms (default 30 s; Retry-After is honoured up to it). */
  maxMs: number;
};

export const DEFAULT_RETRY: RetryPolicy = { retries: 5, baseMs: 250, maxMs: 30_000 };

/** The wait before attempt `attempt` (1 = the first retry): Retry-After seconds, else base·2^(attempt-1) with full jitter. */
export function retryDelay(attempt: number, retryAfterSeconds: number | undefined, policy: RetryPolicy = DEFAULT_RETRY, random: () => number = Math.random): number {
  if (retryAfterSeconds !== undefined) return Math.min(policy.maxMs, retryAfterSeconds * 1000);
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Resolves after `ms`, or rejects when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
