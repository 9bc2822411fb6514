// Buffered ingest for one stream, like the Segment SDKs: events wait in a batch that is sent when it
// is full (count or bytes) or old enough, one batch at a time so the stream keeps their order. Each
// batch gets its idempotency key when it is sealed, so every retry of it is the same request.
import { PipetError } from './errors.ts';
import { randomKey } from './transport.ts';

export type BatchOptions = {
  /** Send once this many events wait (default 100). */
  maxEvents: number;
  /** Send before the batch's JSON passes this many bytes (default 512 KiB; the server takes 4 MiB). */
  maxBytes: number;
  /** Send at most this long after the first event waited, ms (default 1000). */
  flushMs: number;
};

export const DEFAULT_BATCH: BatchOptions = { maxEvents: 100, maxBytes: 512 * 1024, flushMs: 1000 };

/** Sends one sealed batch (JSON texts of its events) under its key; retries are its own business. */
export type SendBatch = (bodies: string[], idempotencyKey: string) => Promise<void>;

export type BatchErrorHandler = (error: PipetError, events: unknown[]) => void;

const encoder = new TextEncoder();

export class Batcher {
  private pending: string[] = [];
  private bytes = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sending: Promise<void> = Promise.resolve();
  private failures: PipetError[] = [];

  private readonly send: SendBatch;
  private readonly options: BatchOptions;
  private readonly onError?: BatchErrorHandler;

  constructor(send: SendBatch, options: BatchOptions, onError?: BatchErrorHandler) {
    this.send = send;
    this.options = options;
    this.onError = onError;
  }

  add(event: unknown): void {
    const text = JSON.stringify(event);
    if (text === undefined) throw new TypeError('enqueue: the event is not a JSON value.');
    const size = encoder.encode(text).length + 1;
    if (this.pending.length > 0 && this.bytes + size > this.options.maxBytes) this.seal();
    this.pending.push(text);
    this.bytes += size;
    if (this.pending.length >= this.options.maxEvents) this.seal();
    else this.timer ??= setTimeout(() => this.seal(), this.options.flushMs);
  }

  /** Sends what waits now, after the batches before it. */
  seal(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const bodies = this.pending;
    const key = randomKey('pipet-batch');
    this.pending = [];
    this.bytes = 0;
    this.sending = this.sending.then(() =>
      this.send(bodies, key).catch((error: unknown) => {
        const failure = PipetError.from(error);
        this.failures.push(failure);
        this.onError?.(failure, bodies.map((b) => JSON.parse(b)));
      }),
    );
  }

  /** Sends everything waiting and resolves once it is stored; rejects with the first batch that could not be. */
  async flush(): Promise<void> {
    this.seal();
    await this.sending;
    const failed = this.failures.splice(0);
    if (failed.length > 0) {
      throw new PipetError(failed[0].code, failed[0].status, `${failed.length} enqueued batch(es) could not be stored: ${failed[0].message}`, { cause: failed[0] });
    }
  }
}
