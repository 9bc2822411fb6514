// One HTTP call to a Pipet server: the key, the error shape, and retries when they are safe.
import { errorFromResponse, PipetError } from './errors.ts';
import { DEFAULT_RETRY, retryDelay, sleep, type RetryPolicy } from './retry.ts';

export type TransportOptions = { url: string; key?: string; fetch?: typeof fetch; headers?: Record<string, string>; retry?: Partial<RetryPolicy> };

export type CallOptions = {
  method?: 'GET' | 'POST';
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /**
   * Whether a failed call may be sent again: GETs always; POSTs only with an Idempotency-Key, so a
   * retry of a request whose answer was lost never appends twice.
   */
  retry?: boolean;
};

export class Transport {
  readonly base: string;
  readonly policy: RetryPolicy;
  private readonly fetchImpl: typeof fetch;
  private readonly headers: Record<string, string>;

  constructor({ url, key, fetch: fetchImpl, headers, retry }: TransportOptions) {
    this.base = url.replace(/\/+$/, '');
    this.fetchImpl = fetchImpl ?? ((input, init) => globalThis.fetch(input, init));
    this.headers = { ...headers, ...(key ? { authorization: `Bearer ${key}` } : {}) };
    this.policy = { ...DEFAULT_RETRY, ...retry };
  }

  url(path: string, query: CallOptions['query'] = {}): string {
    const url = new URL(this.base + path);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.href;
  }

  /** Sends once; a network failure becomes PipetError `network` (or `aborted`), an error status a PipetError. */
  async once(path: string, { method = 'GET', query, headers, body, signal }: CallOptions = {}): Promise<Response> {
    let res: Response;
    try {
      res = await this.fetchImpl(this.url(path, query), { method, headers: { ...this.headers, ...headers }, body, signal });
    } catch (error) {
      if (signal?.aborted) throw new PipetError('aborted', 0, 'The call was aborted.', { cause: error });
      throw new PipetError('network', 0, `Could not reach ${this.base}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    if (!res.ok) throw await errorFromResponse(res);
    return res;
  }

  /** Sends, and on 429, 503 or a network failure waits (Retry-After, else backoff) and sends again. */
  async call(path: string, options: CallOptions = {}): Promise<Response> {
    const retry = options.retry ?? (options.method ?? 'GET') === 'GET';
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(path, options);
      } catch (error) {
        if (!retry || !(error instanceof PipetError) || !error.retryable || attempt > this.policy.retries) throw error;
        await sleep(retryDelay(attempt, error.retryAfter, this.policy), options.signal);
      }
    }
  }

  async json<T>(path: string, options: CallOptions = {}): Promise<T> {
    const res = await this.call(path, options);
    return (await res.json()) as T;
  }
}

/** A random idempotency key (crypto.getRandomValues works in every runtime, in insecure browser contexts too). */
export function randomKey(prefix = 'pipet'): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}
