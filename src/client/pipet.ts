// The client: `new Pipet({ url, key })`, its streams, its management API, and the buffered ingest
// that `close()` flushes.
import { Batcher, DEFAULT_BATCH, type BatchErrorHandler, type BatchOptions } from './batcher.ts';
import { createManage, type PipetManage } from './manage.ts';
import { PipetStream } from './stream.ts';
import { Transport } from './transport.ts';
import type { RetryPolicy } from './retry.ts';

export type PipetOptions = {
  /** The server's origin, e.g. `https://pipet.example`. */
  url: string;
  /** An API key (`pk_…`), sent as `Authorization: Bearer`. Without one, only public streams answer. */
  key?: string;
  /** Another fetch (a test's, a proxy's); the runtime's own by default. */
  fetch?: typeof fetch;
  /** Headers sent with every call. */
  headers?: Record<string, string>;
  /** Retries on 429, 503 and network failures (Retry-After is honoured). */
  retry?: Partial<RetryPolicy>;
  /** How `enqueue` batches. */
  batch?: Partial<BatchOptions>;
  /** Hears each enqueued batch that could not be stored (after its retries); `flush()` rejects too. */
  onError?: BatchErrorHandler;
};

export class Pipet {
  private readonly transport: Transport;
  private readonly batchers = new Map<string, Batcher>();
  private managed: PipetManage | undefined;
  private closed = false;
  private readonly options: PipetOptions;

  constructor(options: PipetOptions) {
    if (!options?.url) throw new TypeError('new Pipet({ url }): the server URL is required.');
    this.options = options;
    this.transport = new Transport(options);
  }

  /** A stream, `team/stream`, typed by its events. */
  stream<T = unknown>(name: string): PipetStream<T> {
    return new PipetStream<T>(name, this.transport, () => this.batcherFor(name));
  }

  /** The management API, typed (`pipet.manage.stream.list.query({ team })`); needs a `manage` key. */
  get manage(): PipetManage {
    this.managed ??= createManage(this.options);
    return this.managed;
  }

  /** Sends every stream's buffered events and waits until they are stored. */
  async flush(): Promise<void> {
    const results = await Promise.allSettled([...this.batchers.values()].map((b) => b.flush()));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Flushes, then refuses further `enqueue`s. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private batcherFor(name: string): Batcher {
    if (this.closed) throw new TypeError('enqueue: this Pipet client is closed.');
    let batcher = this.batchers.get(name);
    if (!batcher) {
      const stream = new PipetStream(name, this.transport, () => batcher!);
      const send = async (bodies: string[], idempotencyKey: string) => {
        await this.transport.call(`${stream.path}/batch`, { method: 'POST', body: `[${bodies.join(',')}]`, headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey }, retry: true });
      };
      batcher = new Batcher(send, { ...DEFAULT_BATCH, ...this.options.batch }, this.options.onError);
      this.batchers.set(name, batcher);
    }
    return batcher;
  }
}
