// The caller's side of the sandbox: pools of worker threads running untrusted reducers, shared
// fairly among tenants. Each tenant (team) waits in its own queue and the pool serves tenants in
// turn, preferring one with nothing running; a call folds for at most one time slice, so a tenant
// with slow reducers holds a thread for a slice, never for its whole backlog. A watchdog replaces a
// thread whose call outlives the wall-clock cap (builtins the CPU interrupt never reaches).
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { env } from '../../env.ts';
import { CallBudget, clientGone, currentBudget, type TimedReply } from './budget.ts';
import { emptyResult, type FoldRequest, type FoldResult, type SandboxLimits, type ThreadData, type ThreadFold, type ThreadReply, type ThreadRequest } from './types.ts';

/** The limits applied when a request names none: SANDBOX_CPU_MS_PER_EVENT, SANDBOX_MEMORY_BYTES, SANDBOX_STATE_BYTES. */
export function defaultLimits(): SandboxLimits {
  const e = env();
  return { cpuMsPerEvent: e.SANDBOX_CPU_MS_PER_EVENT, memoryBytes: e.SANDBOX_MEMORY_BYTES, stateBytes: e.SANDBOX_STATE_BYTES };
}

const MIN_MEMORY_BYTES = 24 * 1024 * 1024; // QuickJS starts with 16 MiB

function resolveLimits(limits: Partial<SandboxLimits> | undefined): SandboxLimits {
  const merged = { ...defaultLimits(), ...limits };
  if (!(merged.cpuMsPerEvent > 0)) throw new TypeError('cpuMsPerEvent must be positive');
  if (!(merged.stateBytes > 0)) throw new TypeError('stateBytes must be positive');
  if (!(merged.memoryBytes >= MIN_MEMORY_BYTES)) throw new TypeError(`memoryBytes must be at least ${MIN_MEMORY_BYTES}`);
  return merged;
}

// ---- the thread entry, found on disk so the same path works from Node, vitest and the built server ----

const THREAD_ENTRY = join('src', 'lib', 'server', 'reducers', 'sandbox', 'thread.ts');

function findProjectRoot(start: string): string | undefined {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'pipet' && existsSync(join(dir, THREAD_ENTRY))) return dir;
      } catch {
        /* not ours */
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export function threadEntryPath(): string {
  const here = typeof import.meta.dirname === 'string' ? import.meta.dirname : undefined;
  for (const start of [here, process.cwd()]) {
    const root = start ? findProjectRoot(start) : undefined;
    if (root) return join(root, THREAD_ENTRY);
  }
  throw new Error(`Cannot find ${THREAD_ENTRY}: run Pipet from its project folder`);
}

// ---- a pool ----

type Job = {
  id: number;
  tenant: string;
  req: ThreadFold;
  hardMs: number;
  startedAt?: number;
  /** The thread's CPU time (ms) when the call was sent, to tell a hot call from a starved one. */
  cpuBase?: Promise<number>;
  /** The interactive call this slice belongs to: charged with its CPU, dropped from the queue on abort. */
  budget?: CallBudget;
  resolve: (result: FoldResult) => void;
  reject: (error: Error) => void;
};

type Slot = { worker: Worker; progress: Int32Array; ready: boolean; current?: Job; timer?: NodeJS.Timeout };

let nextId = 1;

/** How many wall-clock caps a starved (not hot) call may take before it is cut anyway. */
const STARVED_LIMIT = 30;

/** A sandbox thread's CPU time so far, ms (NaN if it cannot be read: then a stuck call is cut). */
function threadCpuMs(worker: Worker): Promise<number> {
  return worker.cpuUsage().then(
    (u) => (u.user + u.system) / 1000,
    () => NaN,
  );
}

class SandboxPool {
  private slots: Slot[] | undefined;
  /** Per tenant, its jobs in arrival order. */
  private readonly waiting = new Map<string, Job[]>();
  /** Tenants with waiting jobs, in the order they are next served. */
  private order: string[] = [];
  private readonly running = new Map<string, number>();
  /** The slot that last ran a cache key: its compiled reducer is warm there. */
  private readonly warm = new Map<string, Slot>();

  readonly threads: () => number;
  /** Whether compiled reducers stay cached between calls (not for dry runs of unsaved code). */
  readonly keep: boolean;

  constructor(threads: () => number, keep: boolean) {
    this.threads = threads;
    this.keep = keep;
  }

  submit(tenant: string, req: ThreadFold, budget?: CallBudget): Promise<FoldResult> {
    const signal = budget?.signal;
    if (signal?.aborted) return Promise.reject(clientGone());
    return new Promise((resolve, reject) => {
      // A call whose client left loses its queued slice at once; a running slice ends within SANDBOX_SLICE_MS.
      const onAbort = () => {
        if (this.unqueue(job)) job.reject(clientGone());
      };
      const settled = <T>(then: (value: T) => void) => (value: T) => {
        signal?.removeEventListener('abort', onAbort);
        then(value);
      };
      const job: Job = { id: nextId++, tenant, req, hardMs: env().SANDBOX_CALL_WALL_MS, budget, resolve: settled(resolve), reject: settled(reject) };
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.waiting.get(tenant);
      if (queue) queue.push(job);
      else {
        this.waiting.set(tenant, [job]);
        this.order.push(tenant);
      }
      this.pump();
    });
  }

  /** Takes a job out of its tenant's queue; false when it is not waiting (running or done). */
  private unqueue(job: Job): boolean {
    const queue = this.waiting.get(job.tenant);
    const at = queue?.indexOf(job) ?? -1;
    if (!queue || at < 0) return false;
    queue.splice(at, 1);
    if (queue.length === 0) {
      this.waiting.delete(job.tenant);
      this.order = this.order.filter((t) => t !== job.tenant);
    }
    return true;
  }

  private pool(): Slot[] {
    this.slots ??= Array.from({ length: this.threads() }, () => this.spawn());
    return this.slots;
  }

  private spawn(slot?: Slot): Slot {
    const e = env();
    const progress = new SharedArrayBuffer(4);
    const data: ThreadData = { progress, idleMs: e.SANDBOX_IDLE_MS, cacheBytes: e.SANDBOX_CACHE_BYTES };
    const worker = new Worker(threadEntryPath(), { workerData: data, execArgv: ['--disable-warning=ExperimentalWarning'] });
    worker.unref(); // a running call keeps the process alive through its watchdog timer
    const target: Slot = slot ?? { worker, progress: new Int32Array(progress), ready: false };
    target.worker = worker;
    target.ready = false;
    target.progress = new Int32Array(progress);
    worker.on('message', (reply: ThreadReply) => this.onReply(target, worker, reply));
    worker.on('error', (error) => this.onCrash(target, worker, error));
    worker.on('exit', (code) => this.onCrash(target, worker, new Error(`sandbox thread exited with code ${code}`)));
    return target;
  }

  /** The next job by the fairness rule: tenants in turn, one with nothing running first. */
  private takeNext(): Job | undefined {
    if (this.order.length === 0) return undefined;
    const at = Math.max(0, this.order.findIndex((t) => !this.running.get(t)));
    const tenant = this.order[at];
    const queue = this.waiting.get(tenant)!;
    const job = queue.shift()!;
    this.order.splice(at, 1);
    if (queue.length > 0) this.order.push(tenant);
    else this.waiting.delete(tenant);
    return job;
  }

  private pump(): void {
    const all = this.pool();
    for (;;) {
      const free = all.filter((s) => s.ready && !s.current);
      if (free.length === 0) return;
      const job = this.takeNext();
      if (!job) return;
      const warm = this.warm.get(job.req.cacheKey);
      this.dispatch(warm && warm.ready && !warm.current ? warm : free[0], job);
    }
  }

  private dispatch(slot: Slot, job: Job): void {
    slot.current = job;
    this.running.set(job.tenant, (this.running.get(job.tenant) ?? 0) + 1);
    if (this.keep) this.warm.set(job.req.cacheKey, slot);
    Atomics.store(slot.progress, 0, -1);
    job.startedAt = Date.now();
    job.cpuBase = threadCpuMs(slot.worker);
    slot.timer = setTimeout(() => void this.onStuck(slot, job), job.hardMs);
    const message: ThreadRequest = { id: job.id, req: job.req };
    slot.worker.postMessage(message);
  }

  private finish(slot: Slot, job: Job): void {
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.current === job) {
      slot.current = undefined;
      const n = (this.running.get(job.tenant) ?? 1) - 1;
      if (n > 0) this.running.set(job.tenant, n);
      else this.running.delete(job.tenant);
    }
    if (this.slots?.includes(slot)) this.pump();
  }

  private onReply(slot: Slot, worker: Worker, reply: TimedReply<ThreadReply>): void {
    if (slot.worker !== worker) return;
    if ('ready' in reply) {
      slot.ready = true;
      this.pump();
      return;
    }
    const job = slot.current;
    if (!job || job.id !== reply.id) return;
    this.finish(slot, job);
    if (reply.cpuMs !== undefined) job.budget?.charge(reply.cpuMs);
    if (reply.result) job.resolve(reply.result);
    else job.reject(new Error(`Sandbox failure: ${reply.failure ?? 'no result'}`));
  }

  /** Replaces the slot's thread, then settles the job that was running on it. */
  private replace(slot: Slot, kind: 'timeout' | 'memory', message: string): void {
    const job = slot.current;
    const stuckAt = Atomics.load(slot.progress, 0);
    const old = slot.worker;
    old.removeAllListeners();
    old.on('error', () => {});
    void old.terminate();
    for (const [key, s] of this.warm) if (s === slot) this.warm.delete(key);
    this.spawn(slot);
    if (!job) return;
    this.finish(slot, job);
    void this.settleAfterFault(job, stuckAt, kind, message).then(job.resolve, job.reject);
  }

  /**
   * The call outlived its wall-clock cap. If its thread really burned that much CPU (a builtin the
   * interrupt never reaches), it is replaced and the event fails; if the machine merely starved it
   * (little CPU used), it gets more time, up to STARVED_LIMIT caps, so a busy box fails no reducer.
   */
  private async onStuck(slot: Slot, job: Job): Promise<void> {
    if (slot.current !== job) return;
    const worker = slot.worker;
    const [base, now] = await Promise.all([job.cpuBase ?? Promise.resolve(NaN), threadCpuMs(worker)]);
    if (slot.current !== job || slot.worker !== worker) return;
    const used = now - base;
    const elapsed = Date.now() - (job.startedAt ?? 0);
    if (used < job.hardMs / 2 && elapsed < job.hardMs * STARVED_LIMIT) {
      slot.timer = setTimeout(() => void this.onStuck(slot, job), job.hardMs / 2);
      return;
    }
    const cpu = Number.isFinite(used) ? `, ${Math.round(used)} ms of it on the CPU` : '';
    job.budget?.charge(Number.isFinite(used) ? used : elapsed);
    this.replace(slot, 'timeout', `TimeoutError: the sandbox stopped responding for ${elapsed} ms${cpu} while folding this event`);
  }

  private onCrash(slot: Slot, worker: Worker, error: Error): void {
    if (slot.worker !== worker || !this.slots?.includes(slot)) return;
    this.replace(slot, 'memory', `MemoryError: the sandbox thread failed while folding this event (${error.message})`);
  }

  /** The fault's event is blamed; the events before it are folded again on a fresh thread. */
  private async settleAfterFault(job: Job, stuckAt: number, kind: 'timeout' | 'memory', message: string): Promise<FoldResult> {
    const { req } = job;
    const at = Math.max(0, Math.min(req.events.length - 1, stuckAt));
    const prefix = at > 0 ? await this.submit(job.tenant, { ...req, events: req.events.slice(0, at) }, job.budget) : emptyResult(req);
    if (prefix.error || prefix.yielded) return prefix;
    return { ...prefix, error: { kind: stuckAt < 0 ? 'compile' : kind, message, stack: '', index: req.events[at].index } };
  }

  /** Terminates the threads; queued and running calls are rejected. The next call starts new threads. */
  async close(): Promise<void> {
    const all = this.slots ?? [];
    this.slots = undefined;
    const pending = [...all.flatMap((s) => (s.current ? [s.current] : [])), ...[...this.waiting.values()].flat()];
    this.waiting.clear();
    this.order = [];
    this.running.clear();
    this.warm.clear();
    await Promise.all(
      all.map(async (slot) => {
        clearTimeout(slot.timer);
        slot.current = undefined;
        slot.worker.removeAllListeners();
        slot.worker.on('error', () => {});
        await slot.worker.terminate();
      }),
    );
    for (const job of pending) job.reject(new Error('The sandbox was closed'));
  }
}

/** Folds of saved reducers (the worker): compiled reducers stay warm. */
const foldPool = new SandboxPool(() => env().SANDBOX_THREADS ?? availableParallelism(), true);
/** Dry runs and compile checks of code that is not saved (the web): small, nothing kept. */
const interactivePool = new SandboxPool(() => env().SANDBOX_INTERACTIVE_THREADS, false);

export type PoolName = 'fold' | 'interactive';

export type FoldOptions = {
  pool?: PoolName;
  /** An interactive call's CPU budget and client signal; by default the one `withBudget` set, if any. */
  budget?: CallBudget;
};

/** One call: folds the batch, or as much as fits in one time slice (`yielded`). Rejects on sandbox failure, and when its budget is spent or its client gone. */
export async function foldSlice(req: FoldRequest, { pool = 'fold', budget = currentBudget() }: FoldOptions = {}): Promise<FoldResult> {
  const limits = resolveLimits(req.limits);
  if (req.events.length === 0) return emptyResult(req);
  budget?.check();
  const target = pool === 'fold' ? foldPool : interactivePool;
  const { tenant = '', limits: _limits, ...rest } = req;
  return target.submit(tenant, { ...rest, collectStates: !!req.collectStates, limits, sliceMs: env().SANDBOX_SLICE_MS, keep: target.keep }, budget);
}

/**
 * Folds the whole batch, a slice at a time (each slice waits its tenant's turn). Reducer faults come
 * back as `error`. With a budget, it stops between slices once the budget's CPU is spent (the
 * result is then still `yielded`: the caller says what that means) and throws once its client is gone.
 */
export async function foldBatch(req: FoldRequest, options: FoldOptions = {}): Promise<FoldResult> {
  const budget = options.budget ?? currentBudget();
  const slice = (r: FoldRequest) => foldSlice(r, { ...options, budget });
  let result = await slice(req);
  while (result.yielded && !budget?.exhausted) {
    const done = result.folded;
    const rest = await slice({ ...req, ...continuation(req, result), events: req.events.slice(done) });
    result = {
      stateJson: rest.stateJson,
      folded: done + rest.folded,
      effects: [...result.effects, ...rest.effects],
      ...(result.states ? { states: [...result.states, ...(rest.states ?? [])] } : {}),
      ...(result.keys ? { keys: [...result.keys, ...(rest.keys ?? [])] } : {}),
      ...(rest.error ? { error: rest.error } : {}),
      ...(rest.yielded ? { yielded: true as const } : {}),
    };
  }
  return result;
}

/** Where the next slice starts from: the state so far, or in keyed mode the keys' states so far. */
function continuation(req: FoldRequest, so: FoldResult): Partial<FoldRequest> {
  if (req.mode === 'keys') return {};
  if (req.mode !== 'keyed') return { stateJson: so.stateJson };
  const states = JSON.parse(req.keyStatesJson ?? '{}') as Record<string, unknown>;
  so.states!.forEach((json, i) => Object.defineProperty(states, req.keys![i], { value: JSON.parse(json), enumerable: true, configurable: true, writable: true }));
  return { keys: req.keys!.slice(so.folded), keyStatesJson: JSON.stringify(states) };
}

/** Terminates every sandbox thread (tests, graceful shutdown); queued folds are rejected. */
export async function closeSandbox(): Promise<void> {
  await Promise.all([foldPool.close(), interactivePool.close()]);
}
