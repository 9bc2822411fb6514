// Runs inside a sandbox thread: one QuickJS WebAssembly instance per cached reducer, each with its
// own capped WebAssembly.Memory, so a memory bomb or a polluted prototype stays in its own instance.
// Everything here is synchronous once a reducer is compiled; the thread's watchdog lives on the caller.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import {
  newQuickJSWASMModuleFromVariant,
  newVariant,
  type QuickJSContext,
  type QuickJSHandle,
  type QuickJSRuntime,
} from 'quickjs-emscripten-core';
import RELEASE_SYNC from '@jitl/quickjs-wasmfile-release-sync';
import { pipetDriver } from './driver.js';
import { sha256Hex } from '../../crypto.ts';
import type { FoldError, FoldRequest, FoldResult, RecordedEffect, SandboxLimits } from '../sandbox.ts';

export type EngineOptions = {
  /** Written with the ordinal of the event being folded (-1 while compiling), read by the watchdog. */
  progress: Int32Array;
  idleMs: number;
  cacheBytes: number;
};

type Reducer = {
  key: string;
  codeHash: string;
  memoryBytes: number;
  memory: WebAssembly.Memory;
  runtime: QuickJSRuntime;
  context: QuickJSContext;
  fold: QuickJSHandle;
  reducer: QuickJSHandle;
  lastUsed: number;
};

const PAGE = 65536;
const INITIAL_PAGES = 256; // the QuickJS build declares 16 MiB of initial memory
const STACK_BYTES = 256 * 1024; // larger stacks let deep recursion corrupt the runtime
const DRIVER_SOURCE = `(${pipetDriver.toString()})`;

const require = createRequire(import.meta.url);
const wasmModule = new WebAssembly.Module(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
const cache = new Map<string, Reducer>();

// CPU budget of the event being folded, checked by each runtime's interrupt handler. Thread CPU
// time rather than wall time, so a busy machine does not time reducers out.
const cpuNow: () => number =
  typeof process.threadCpuUsage === 'function'
    ? () => {
        const u = process.threadCpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();
let budgetMs = Infinity;
let eventStart = -1;
let interrupted = false;

function startClock(ms: number): void {
  budgetMs = ms;
  eventStart = -1;
  interrupted = false;
}

function shouldInterrupt(): boolean {
  if (budgetMs === Infinity) return false;
  // The first check of an event starts its clock: cheaper than reading the clock on every event,
  // and it undercounts by at most one check interval.
  if (eventStart < 0) {
    eventStart = cpuNow();
    return false;
  }
  if (cpuNow() - eventStart > budgetMs) interrupted = true;
  return interrupted;
}

async function createReducer(key: string, code: string, codeHash: string, limits: SandboxLimits, options: EngineOptions): Promise<Reducer | FoldError> {
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: Math.floor(limits.memoryBytes / PAGE) });
  const module = await newQuickJSWASMModuleFromVariant(newVariant(RELEASE_SYNC, { wasmModule, wasmMemory: memory }));
  const runtime = module.newRuntime();
  // QuickJS's own accounting throws a catchable "out of memory" first; the capped Memory is the
  // hard stop for what it does not count.
  runtime.setMemoryLimit(Math.max(8 * 1024 * 1024, limits.memoryBytes - 8 * 1024 * 1024));
  runtime.setMaxStackSize(STACK_BYTES);
  runtime.setInterruptHandler(shouldInterrupt);
  const context = runtime.newContext();
  const dispose = () => disposeQuietly(context, runtime);
  try {
    options.progress[0] = -1;
    const seed = Number.parseInt(codeHash.slice(0, 8), 16) | 0;
    const driver = context.unwrapResult(context.evalCode(DRIVER_SOURCE, 'pipet-sandbox.js'));
    const tick = context.newFunction('tick', (k) => {
      const ordinal = context.getNumber(k);
      Atomics.store(options.progress, 0, ordinal);
      startClock(budgetMs);
    });
    const byteLength = context.newFunction('byteLength', (text) => context.newNumber(Buffer.byteLength(context.getString(text), 'utf8')));
    const seedHandle = context.newNumber(seed);
    const fold = context.unwrapResult(context.callFunction(driver, context.undefined, tick, byteLength, seedHandle));
    for (const h of [driver, tick, byteLength, seedHandle]) h.dispose();

    startClock(Math.max(limits.cpuMsPerEvent, 250));
    const compiled = compile(context, code);
    startClock(Infinity);
    if ('error' in compiled) {
      fold.dispose();
      dispose();
      return compiled.error;
    }
    return { key, codeHash, memoryBytes: limits.memoryBytes, memory, runtime, context, fold, reducer: compiled.value, lastUsed: Date.now() };
  } catch (error) {
    startClock(Infinity);
    dispose();
    return { kind: 'compile', message: `The sandbox could not load this reducer: ${errorText(error)}`, stack: '', index: -1 };
  }
}

/** Evaluates the code as an expression, or failing that as a script whose completion value is the function. */
function compile(context: QuickJSContext, code: string): { value: QuickJSHandle } | { error: FoldError } {
  let result = context.evalCode(`(${code}\n)`, 'reducer.js');
  if (result.error) {
    const asScript = context.evalCode(code, 'reducer.js');
    if (asScript.error) {
      asScript.error.dispose();
    } else {
      result.error.dispose();
      result = asScript;
    }
  }
  if (result.error) {
    const dumped = context.dump(result.error) as { name?: string; message?: string; stack?: string } | string;
    result.error.dispose();
    const message = typeof dumped === 'object' && dumped ? `${dumped.name ?? 'Error'}: ${dumped.message ?? ''}` : String(dumped);
    const stack = typeof dumped === 'object' && dumped?.stack ? reducerFrames(dumped.stack) : '';
    return { error: { kind: 'compile', message: interrupted ? 'The code took too long to evaluate.' : message, stack, index: -1 } };
  }
  if (context.typeof(result.value) !== 'function') {
    const type = context.typeof(result.value);
    result.value.dispose();
    return { error: { kind: 'compile', message: `The code must evaluate to a function (state, event, index, stream) => newState, not ${type}.`, stack: '', index: -1 } };
  }
  return { value: result.value };
}

function reducerFrames(stack: string): string {
  return stack.split('\n').filter((line) => line.includes('reducer.js')).slice(0, 20).join('\n');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function disposeQuietly(context: QuickJSContext, runtime: QuickJSRuntime, handles: QuickJSHandle[] = []): void {
  // After a WebAssembly trap the instance may be unusable; dropping the references frees it anyway.
  try {
    for (const h of handles) if (h.alive) h.dispose();
    if (context.alive) context.dispose();
    if (runtime.alive) runtime.dispose();
  } catch {
    /* the instance is garbage either way */
  }
}

function discard(entry: Reducer): void {
  cache.delete(entry.key);
  disposeQuietly(entry.context, entry.runtime, [entry.fold, entry.reducer]);
}

/** Drops reducers idle past idleMs, then the least recently used until the cached memory fits. */
export function evict(options: EngineOptions, now = Date.now()): void {
  let total = 0;
  for (const entry of cache.values()) {
    if (now - entry.lastUsed > options.idleMs) discard(entry);
    else total += entry.memory.buffer.byteLength;
  }
  // Map order is insertion order and entries are re-inserted on use, so the first is the least recent.
  for (const entry of cache.values()) {
    if (total <= options.cacheBytes || cache.size <= 1) break;
    total -= entry.memory.buffer.byteLength;
    discard(entry);
  }
}

type Limits = SandboxLimits;

/** Folds a batch synchronously (after the reducer is compiled). Never throws for reducer faults. */
export async function runFold(req: FoldRequest & { limits: Limits }, options: EngineOptions): Promise<FoldResult> {
  const codeHash = sha256Hex(req.code);
  let entry = cache.get(req.cacheKey);
  if (entry && (entry.codeHash !== codeHash || entry.memoryBytes !== req.limits.memoryBytes)) {
    discard(entry);
    entry = undefined;
  }
  if (!entry) {
    const created = await createReducer(req.cacheKey, req.code, codeHash, req.limits, options);
    if (!('runtime' in created)) {
      return { stateJson: req.stateJson, folded: 0, effects: [], ...(req.collectStates ? { states: [] } : {}), error: { ...created, index: req.events[0].index } };
    }
    entry = created;
  }
  cache.delete(req.cacheKey);
  cache.set(req.cacheKey, entry);
  entry.lastUsed = Date.now();

  const result = foldWith(entry, req, options);
  if (result.ok) {
    // A runtime that failed is never reused; nor one holding promise jobs, which never run here
    // (reducers are synchronous) and would otherwise pile up.
    if (result.value.error || entry.runtime.hasPendingJob()) discard(entry);
    return result.value;
  }
  // The fault escaped the driver (interrupt, or the engine itself ran out of memory): the runtime is
  // discarded, and the events before the failing one are folded again in a fresh one, which gives
  // the same state and effects because reducers are deterministic.
  discard(entry);
  const failed = result.at;
  const prefix: FoldResult =
    failed > 0
      ? await runFold({ ...req, events: req.events.slice(0, failed) }, options)
      : { stateJson: req.stateJson, folded: 0, effects: [], ...(req.collectStates ? { states: [] } : {}) };
  if (prefix.error) return prefix;
  return { ...prefix, error: { ...result.error, index: req.events[failed].index } };
}

type Outcome = { ok: true; value: FoldResult } | { ok: false; at: number; error: Omit<FoldError, 'index'> };

function foldWith(entry: Reducer, req: FoldRequest & { limits: Limits }, options: EngineOptions): Outcome {
  const { context } = entry;
  const events = req.events;
  const input =
    `{"s":${req.stateJson},"st":${JSON.stringify(req.stream)},"c":${req.collectStates ? 1 : 0},"m":${req.limits.stateBytes},` +
    `"i":[${events.map((e) => e.index).join(',')}],"t":[${events.map((e) => e.receivedAt).join(',')}],` +
    `"b":[${events.map((e) => e.bodyJson).join(',')}]}`;
  // Where the fault happened: the driver knows exactly, unless the engine trapped; then the last tick.
  const progress = () => {
    let at = Atomics.load(options.progress, 0);
    try {
      const position = context.getProp(entry.fold, 'position');
      const value = context.callFunction(position, context.undefined);
      position.dispose();
      if (!value.error) at = context.getNumber(value.value);
      (value.error ?? value.value).dispose();
    } catch {
      /* the instance is unusable */
    }
    return Math.max(0, Math.min(events.length - 1, at));
  };
  startClock(req.limits.cpuMsPerEvent);
  let text: string;
  try {
    const inputHandle = context.newString(input);
    const result = context.callFunction(entry.fold, context.undefined, entry.reducer, inputHandle);
    inputHandle.dispose();
    if (result.error) {
      const dumped = context.dump(result.error) as { name?: string; message?: string } | undefined;
      result.error.dispose();
      startClock(Infinity);
      if (interrupted || (dumped?.name === 'InternalError' && dumped.message === 'interrupted')) {
        return { ok: false, at: progress(), error: { kind: 'timeout', message: `TimeoutError: the reducer used more than ${req.limits.cpuMsPerEvent} ms of CPU on this event`, stack: '' } };
      }
      return { ok: false, at: progress(), error: { kind: 'memory', message: `MemoryError: the reducer exceeded its memory limit (${dumped?.name ?? 'Error'}: ${dumped?.message ?? ''})`, stack: '' } };
    }
    text = context.getString(result.value);
    result.value.dispose();
  } catch (error) {
    // A WebAssembly trap: the engine hit the Memory's maximum (or worse) mid-operation.
    startClock(Infinity);
    return { ok: false, at: progress(), error: { kind: 'memory', message: `MemoryError: the reducer exceeded its ${req.limits.memoryBytes} bytes of memory (${errorText(error)})`, stack: '' } };
  }
  startClock(Infinity);
  return { ok: true, value: toResult(text, req) };
}

type DriverOutput = {
  folded: number;
  state: string | null;
  effects: RecordedEffect[];
  states?: string[];
  error?: { kind: FoldError['kind']; message: string; stack: string; at: number };
};

const KINDS = new Set(['webhook', 'email', 'timer']);

/** The driver runs in the reducer's realm, where the reducer can tamper with builtins: check its output. */
function wellFormed(out: DriverOutput, req: FoldRequest): boolean {
  const n = req.events.length;
  if (!Number.isInteger(out.folded) || out.folded < 0 || out.folded > n || !Array.isArray(out.effects)) return false;
  if (out.folded > 0 && typeof out.state !== 'string') return false;
  if (req.collectStates && (!Array.isArray(out.states) || out.states.length !== out.folded || !out.states.every((s) => typeof s === 'string'))) return false;
  if (out.error && (out.error.at !== out.folded || typeof out.error.message !== 'string' || typeof out.error.stack !== 'string')) return false;
  let k = 0;
  let expect = 0;
  for (const e of out.effects) {
    while (k < out.folded && req.events[k].index !== e?.eventIndex) {
      k++;
      expect = 0;
    }
    if (k >= out.folded || e.ordinal !== expect++ || !KINDS.has(e.kind) || typeof e.payload !== 'object' || e.payload === null) return false;
  }
  return true;
}

function toResult(text: string, req: FoldRequest): FoldResult {
  let out: DriverOutput;
  try {
    out = JSON.parse(text) as DriverOutput;
  } catch {
    out = { folded: -1, state: null, effects: [] };
  }
  if (!wellFormed(out, req)) {
    const result: FoldResult = { stateJson: req.stateJson, folded: 0, effects: [] };
    if (req.collectStates) result.states = [];
    result.error = { kind: 'threw', message: 'Error: the reducer interfered with the sandbox (its output was malformed)', stack: '', index: req.events[0].index };
    return result;
  }
  const result: FoldResult = {
    stateJson: out.folded > 0 && typeof out.state === 'string' ? out.state : req.stateJson,
    folded: out.folded,
    effects: out.effects,
  };
  if (req.collectStates) result.states = out.states ?? [];
  if (out.error) {
    result.error = { kind: out.error.kind, message: out.error.message, stack: out.error.stack, index: req.events[out.error.at].index };
  }
  return result;
}
