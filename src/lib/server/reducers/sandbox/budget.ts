// One interactive call's allowance in the sandbox: CPU time summed over all its slices, and the
// signal that says its client went away. The pool charges each slice's thread CPU to the budget of
// the call it belongs to, drops the call's queued slices on abort, and foldBatch stops between
// slices when either runs out. A budget set with `withBudget` reaches every fold made inside it
// (compile checks, keyed dry runs) without each passing it on.
import { AsyncLocalStorage } from 'node:async_hooks';
import { AppError } from '../../errors.ts';

export class CallBudget {
  readonly cpuMs: number;
  readonly signal?: AbortSignal;
  private spent = 0;

  constructor({ cpuMs, signal }: { cpuMs: number; signal?: AbortSignal }) {
    this.cpuMs = cpuMs;
    this.signal = signal;
  }

  /** Sandbox CPU used so far, ms. */
  get spentMs(): number {
    return this.spent;
  }

  get exhausted(): boolean {
    return this.spent >= this.cpuMs;
  }

  charge(ms: number): void {
    if (Number.isFinite(ms) && ms > 0) this.spent += ms;
  }

  /** Throws when the client has gone (nothing more should be folded for it) or the CPU is spent. */
  check(): void {
    if (this.signal?.aborted) throw clientGone();
    if (this.exhausted) {
      throw new AppError('conflict', `This call used its ${this.cpuMs} ms of sandbox CPU (INTERACTIVE_CPU_MS) and was stopped: try it on fewer events.`);
    }
  }
}

export function clientGone(): AppError {
  return new AppError('bad_request', 'The client went away; the call was stopped.');
}

const current = new AsyncLocalStorage<CallBudget>();

export function withBudget<T>(budget: CallBudget, work: () => Promise<T>): Promise<T> {
  return current.run(budget, work);
}

/** The budget of the interactive call this code runs in, if any. */
export function currentBudget(): CallBudget | undefined {
  return current.getStore();
}

/** What a sandbox thread answers: the pool's reply with the thread CPU the call took. */
export type TimedReply<R> = R & { cpuMs?: number };
