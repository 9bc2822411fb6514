// Folds batches of events through untrusted reducer code. The code runs in QuickJS compiled to
// WebAssembly (one instance per reducer, capped memory), inside worker threads so the synchronous
// engine never blocks the caller's event loop; a watchdog replaces a thread stuck past a hard limit.
import { Worker } from 'node:worker_threads';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { env } from '../env.ts';
import type { ThreadData, ThreadReply, ThreadRequest } from './sandbox-thread.ts';

export type SandboxLimits = { cpuMsPerEvent: number; memoryBytes: number; stateBytes: number };
export type SandboxEvent = { index: number; bodyJson: string; receivedAt: number /* ms epoch */ };
export type RecordedEffect =
  | { eventIndex: number; ordinal: number; kind: 'webhook'; payload: { url: string; method: string; headers: Record<string, string>; body: unknown } }
  | { eventIndex: number; ordinal: number; kind: 'email'; payload: { to: string | string[]; subject: string; text?: string; html?: string; replyTo?: string } }
  | { eventIndex: number; ordinal: number; kind: 'timer'; payload: { dueAt: string /* ISO */; event: unknown } };
export type FoldRequest = {
  /** e.g. `${reducerId}:${version}`; compiled reducers are cached per key and evicted when idle. */
  cacheKey: string;
  /** JS source whose value is a function (state, event, index, stream) => newState. */
  code: string;
  /** Current state as JSON text ("null" allowed). */
  stateJson: string;
  /** Consecutive, in index order. */
  events: SandboxEvent[];
  stream: { team: string; name: string; length: number };
  limits?: Partial<SandboxLimits>;
  /** Dry runs: also return the state after each event. */
  collectStates?: boolean;
};
export type FoldErrorKind = 'threw' | 'timeout' | 'memory' | 'state_too_large' | 'not_json' | 'compile';
export type FoldError = { message: string; stack: string; index: number; kind: FoldErrorKind };
export type FoldResult = {
  /** State after the last event that folded successfully. */
  stateJson: string;
  /** How many events of the batch folded successfully (a prefix). */
  folded: number;
  /** Effects recorded by the folded events only, in order; ordinal counts from 0 per event. */
  effects: RecordedEffect[];
  /** With collectStates, the state JSON after each folded event. */
  states?: string[];
  error?: FoldError;
};

function sandboxEnv() {
  return env();
}

/** The limits applied when a request names none: SANDBOX_CPU_MS_PER_EVENT, SANDBOX_MEMORY_BYTES, SANDBOX_STATE_BYTES. */
export function defaultLimits(): SandboxLimits {
  const e = sandboxEnv();
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

const THREAD_ENTRY = join('src', 'lib', 'server', 'reducers', 'sandbox-thread.ts');

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

// ---- the pool ----

type Job = {
  id: number;
  req: FoldRequest & { limits: SandboxLimits };
  hardMs: number;
  resolve: (result: FoldResult) => void;
  reject: (error: Error) => void;
};

type Slot = {
  worker: Worker;
  progress: Int32Array;
  current?: Job;
  timer?: NodeJS.Timeout;
  queue: Job[];
};

let slots: Slot[] | undefined;
let nextId = 1;

function spawn(slot?: Slot): Slot {
  const e = sandboxEnv();
  const progress = new SharedArrayBuffer(4);
  const data: ThreadData = { progress, idleMs: e.SANDBOX_IDLE_MS, cacheBytes: e.SANDBOX_CACHE_BYTES };
  const worker = new Worker(threadEntryPath(), { workerData: data, execArgv: ['--disable-warning=ExperimentalWarning'] });
  worker.unref(); // a pending job keeps the process alive through its watchdog timer
  const target: Slot = slot ?? { worker, progress: new Int32Array(progress), queue: [] };
  target.worker = worker;
  target.progress = new Int32Array(progress);
  worker.on('message', (reply: ThreadReply) => onReply(target, worker, reply));
  worker.on('error', (error) => onCrash(target, worker, error));
  worker.on('exit', (code) => onCrash(target, worker, new Error(`sandbox thread exited with code ${code}`)));
  return target;
}

function pool(): Slot[] {
  slots ??= Array.from({ length: sandboxEnv().SANDBOX_THREADS }, () => spawn());
  return slots;
}

function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The same cacheKey goes to the same thread (its compiled reducer is there) unless another is idle. */
function pick(all: Slot[], cacheKey: string): Slot {
  const preferred = all[hash(cacheKey) % all.length];
  if (!preferred.current) return preferred;
  return all.find((s) => !s.current && s.queue.length === 0) ?? preferred;
}

function dispatch(slot: Slot): void {
  if (slot.current) return;
  const job = slot.queue.shift();
  if (!job) return;
  slot.current = job;
  Atomics.store(slot.progress, 0, -1);
  slot.timer = setTimeout(() => onStuck(slot, job), job.hardMs);
  const message: ThreadRequest = { id: job.id, req: job.req };
  slot.worker.postMessage(message);
}

function finish(slot: Slot, job: Job): void {
  clearTimeout(slot.timer);
  slot.timer = undefined;
  if (slot.current === job) slot.current = undefined;
  dispatch(slot);
}

function onReply(slot: Slot, worker: Worker, reply: ThreadReply): void {
  const job = slot.current;
  if (slot.worker !== worker || !job || job.id !== reply.id) return;
  finish(slot, job);
  if (reply.result) job.resolve(reply.result);
  else job.reject(new Error(`Sandbox failure: ${reply.failure ?? 'no result'}`));
}

/** Replaces the slot's thread, then settles the job that was running on it. */
function replace(slot: Slot, kind: 'timeout' | 'memory', message: string): void {
  const job = slot.current;
  const stuckAt = Atomics.load(slot.progress, 0);
  const old = slot.worker;
  old.removeAllListeners();
  old.on('error', () => {});
  void old.terminate();
  spawn(slot);
  if (!job) return;
  finish(slot, job);
  void settleAfterFault(job, stuckAt, kind, message).then(job.resolve, job.reject);
}

function onStuck(slot: Slot, job: Job): void {
  if (slot.current !== job) return;
  replace(slot, 'timeout', `TimeoutError: the sandbox stopped responding for ${job.hardMs} ms while folding this event`);
}

function onCrash(slot: Slot, worker: Worker, error: Error): void {
  if (slot.worker !== worker || !slots?.includes(slot)) return;
  replace(slot, 'memory', `MemoryError: the sandbox thread failed while folding this event (${error.message})`);
}

/** The fault's event is blamed; the events before it are folded again on the fresh thread. */
async function settleAfterFault(job: Job, stuckAt: number, kind: 'timeout' | 'memory', message: string): Promise<FoldResult> {
  const { req } = job;
  const at = Math.max(0, Math.min(req.events.length - 1, stuckAt));
  const prefix: FoldResult =
    at > 0 ? await foldBatch({ ...req, events: req.events.slice(0, at) }) : { stateJson: req.stateJson, folded: 0, effects: [], ...(req.collectStates ? { states: [] } : {}) };
  if (prefix.error) return prefix;
  return { ...prefix, error: { kind: stuckAt < 0 ? 'compile' : kind, message, stack: '', index: req.events[at].index } };
}

/** Folds the batch in a sandbox thread. Reducer faults come back as `error`; it rejects only on sandbox failure. */
export async function foldBatch(req: FoldRequest): Promise<FoldResult> {
  const limits = resolveLimits(req.limits);
  if (req.events.length === 0) return { stateJson: req.stateJson, folded: 0, effects: [], ...(req.collectStates ? { states: [] } : {}) };
  const job: Omit<Job, 'resolve' | 'reject'> = {
    id: nextId++,
    req: { cacheKey: req.cacheKey, code: req.code, stateJson: req.stateJson, events: req.events, stream: req.stream, limits, collectStates: !!req.collectStates },
    hardMs: Math.max(5_000, req.events.length * limits.cpuMsPerEvent * 4) + 1_000,
  };
  return new Promise<FoldResult>((resolve, reject) => {
    const all = pool();
    const slot = pick(all, req.cacheKey);
    slot.queue.push({ ...job, resolve, reject });
    dispatch(slot);
  });
}

/** Terminates the threads (tests, graceful shutdown); queued folds are rejected. The next fold starts a new pool. */
export async function closeSandbox(): Promise<void> {
  const all = slots ?? [];
  slots = undefined;
  await Promise.all(
    all.map(async (slot) => {
      clearTimeout(slot.timer);
      const pending = [...(slot.current ? [slot.current] : []), ...slot.queue];
      slot.current = undefined;
      slot.queue = [];
      slot.worker.removeAllListeners();
      slot.worker.on('error', () => {});
      await slot.worker.terminate();
      for (const job of pending) job.reject(new Error('The sandbox was closed'));
    }),
  );
}
