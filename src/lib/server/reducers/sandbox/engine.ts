// Runs inside a sandbox thread: one QuickJS WebAssembly instance per cached reducer, each with its
// own capped WebAssembly.Memory, so a memory bomb or a polluted prototype stays in its own instance.
// This is the host side of the boundary: it validates every effect as the reducer records it and
// builds the result itself from what the driver hands over as primitives.
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
import { SPEC_LIST } from '../../effects/kinds/index.ts';
import { EffectArgumentError, signatureText } from '../../effects/kinds/define.ts';
import { emptyResult, MAX_EFFECT_BYTES, MAX_KEY_BYTES, MAX_EFFECTS_PER_EVENT, type FoldError, type FoldErrorKind, type FoldResult, type RecordedEffect, type ThreadFold } from './types.ts';

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
const COMPILE_CPU_MS = 250;
const DRIVER_SOURCE = `(${pipetDriver.toString()})`;
const KINDS_JSON = JSON.stringify(SPEC_LIST.map((s) => [s.signature.name, s.signature.params]));
const ERROR_KINDS = new Set<FoldErrorKind>(['threw', 'timeout', 'memory', 'state_too_large', 'not_json', 'key']);

const require = createRequire(import.meta.url);
const wasmModule = new WebAssembly.Module(readFileSync(require.resolve('@jitl/quickjs-wasmfile-release-sync/wasm')));
const cache = new Map<string, Reducer>();

// CPU budget of the event being folded, checked by each runtime's interrupt handler and after each
// event. Thread CPU time rather than wall time, so a busy machine does not time reducers out.
const cpuNow: () => number =
  typeof process.threadCpuUsage === 'function'
    ? () => {
        const u = process.threadCpuUsage();
        return (u.user + u.system) / 1000;
      }
    : () => performance.now();
let budgetMs = Infinity;
let eventStart = 0;
let interrupted = false;

function startClock(ms: number): void {
  budgetMs = ms;
  eventStart = cpuNow();
  interrupted = false;
}

function overBudget(): boolean {
  return budgetMs !== Infinity && cpuNow() - eventStart > budgetMs;
}

function shouldInterrupt(): boolean {
  if (!interrupted && overBudget()) interrupted = true;
  return interrupted;
}

// ---- the fold in progress: what the driver's host calls write to (all synchronous) ----

type Outcome = { folded: number; stateJson: string | null; errorKind: string; errorMessage: string; errorStack: string };
type Active = { req: ThreadFold; effects: (RecordedEffect & { k: number })[]; counts: number[]; states: string[]; outcome: Outcome | null };
let active: Active | null = null;

/** An effect call from the reducer: validated against its kind now, kept host-side. '' or the refusal. */
function emit(k: number, kindIndex: number, argsJson: string): string {
  const a = active;
  const spec = SPEC_LIST[kindIndex];
  if (!a || !spec || !Number.isInteger(k) || k < 0 || k >= a.req.events.length) return 'Effects can only be recorded while an event is folded.';
  const fn = signatureText(spec);
  const count = a.counts[k] ?? 0;
  if (count >= MAX_EFFECTS_PER_EVENT) return `${fn}: at most ${MAX_EFFECTS_PER_EVENT} effects per event`;
  if (argsJson.length > MAX_EFFECT_BYTES || Buffer.byteLength(argsJson) > MAX_EFFECT_BYTES) return `${fn}: its arguments are larger than ${MAX_EFFECT_BYTES} bytes of JSON`;
  if (argsJson.includes('\\u0000')) return `${fn}: strings may not contain the NUL character (\\u0000)`;
  let args: unknown;
  try {
    args = JSON.parse(argsJson);
  } catch {
    return `${fn}: its arguments must be JSON`;
  }
  if (args === null || typeof args !== 'object' || Array.isArray(args)) return `${fn}: its arguments must be JSON`;
  let payload: unknown;
  try {
    payload = spec.record(args as Record<string, unknown>, { now: a.req.events[k].receivedAt });
  } catch (error) {
    return error instanceof EffectArgumentError ? error.message : `${fn}: ${(error as Error).message}`;
  }
  a.counts[k] = count + 1;
  a.effects.push({ k, eventIndex: a.req.events[k].index, ordinal: count, kind: spec.kind, payload } as RecordedEffect & { k: number });
  return '';
}

async function createReducer(key: string, code: string, codeHash: string, limits: ThreadFold['limits'], options: EngineOptions, file: string): Promise<Reducer | FoldError> {
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
    const host = [
      context.newFunction('tick', (k) => {
        Atomics.store(options.progress, 0, context.getNumber(k));
        startClock(budgetMs);
      }),
      context.newFunction('byteLength', (text) => context.newNumber(Buffer.byteLength(context.getString(text), 'utf8'))),
      context.newNumber(seed),
      context.newString(KINDS_JSON),
      context.newFunction('emit', (k, kind, json) => context.newString(emit(context.getNumber(k), context.getNumber(kind), context.getString(json)))),
      context.newFunction('overBudget', () => (overBudget() ? context.true : context.false)),
      context.newFunction('step', (json) => {
        active?.states.push(context.getString(json));
      }),
      context.newFunction('done', (folded, state, kind, message, stack) => {
        if (!active || active.outcome) return;
        const stateType = context.typeof(state);
        active.outcome = {
          folded: context.typeof(folded) === 'number' ? context.getNumber(folded) : -1,
          stateJson: stateType === 'string' ? context.getString(state) : null,
          errorKind: context.getString(kind),
          errorMessage: context.getString(message),
          errorStack: context.getString(stack),
        };
      }),
    ];
    const fold = context.unwrapResult(context.callFunction(driver, context.undefined, ...host));
    for (const h of [driver, ...host]) h.dispose();

    startClock(COMPILE_CPU_MS);
    const compiled = compile(context, code, file);
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
function compile(context: QuickJSContext, code: string, file: string): { value: QuickJSHandle } | { error: FoldError } {
  let result = context.evalCode(`(${code}\n)`, file);
  if (result.error) {
    const asScript = context.evalCode(code, file);
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
  return stack.split('\n').filter((line) => line.includes('reducer.js') || line.includes('key-by.js')).slice(0, 20).join('\n');
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
  if (cache.get(entry.key) === entry) cache.delete(entry.key);
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

/** Folds a batch (or a slice of it) synchronously once the reducer is compiled. Never throws for reducer faults. */
export async function runFold(req: ThreadFold, options: EngineOptions): Promise<FoldResult> {
  const codeHash = sha256Hex(req.code);
  let entry = cache.get(req.cacheKey);
  if (entry && (entry.codeHash !== codeHash || entry.memoryBytes !== req.limits.memoryBytes)) {
    discard(entry);
    entry = undefined;
  }
  if (!entry) {
    // keyBy's frames are named for it, so an error's stack says which of the two functions failed.
    const created = await createReducer(req.cacheKey, req.code, codeHash, req.limits, options, req.mode === 'keys' ? 'key-by.js' : 'reducer.js');
    if (!('runtime' in created)) return { ...emptyResult(req), error: { ...created, index: req.events[0].index } };
    entry = created;
  }
  cache.delete(req.cacheKey);
  if (req.keep) cache.set(req.cacheKey, entry);
  entry.lastUsed = Date.now();

  const outcome = foldWith(entry, req, options);
  if ('result' in outcome) {
    // A runtime that failed is never reused; nor one holding promise jobs, which never run here
    // (reducers are synchronous) and would otherwise pile up.
    if (!req.keep || outcome.result.error || entry.runtime.hasPendingJob()) discard(entry);
    return outcome.result;
  }
  // The fault escaped the driver (interrupt, or the engine itself ran out of memory): the runtime is
  // discarded, and the events before the failing one are folded again in a fresh one, which gives
  // the same state and effects because reducers are deterministic.
  discard(entry);
  const failed = outcome.at;
  const prefix = failed > 0 ? await runFold({ ...req, events: req.events.slice(0, failed) }, options) : emptyResult(req);
  if (prefix.error || prefix.yielded) return prefix;
  return { ...prefix, error: { ...outcome.error, index: req.events[failed].index } };
}

type FoldOutcome = { result: FoldResult } | { at: number; error: Omit<FoldError, 'index'> };

function foldWith(entry: Reducer, req: ThreadFold, options: EngineOptions): FoldOutcome {
  const { context } = entry;
  const events = req.events;
  const mode = req.mode === 'keys' ? 1 : req.mode === 'keyed' ? 2 : 0;
  const keyed = mode === 2 ? `"k":${JSON.stringify(req.keys ?? [])},"ks":${req.keyStatesJson ?? '{}'},` : '';
  const input =
    `{"md":${mode},${keyed}"s":${req.stateJson},"st":${JSON.stringify(req.stream)},"c":${req.collectStates ? 1 : 0},"m":${req.limits.stateBytes},` +
    `"u":${req.limits.cpuMsPerEvent},"y":${req.sliceMs},` +
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
  const a: Active = { req, effects: [], counts: [], states: [], outcome: null };
  active = a;
  startClock(req.limits.cpuMsPerEvent);
  try {
    const inputHandle = context.newString(input);
    const result = context.callFunction(entry.fold, context.undefined, entry.reducer, inputHandle);
    inputHandle.dispose();
    if (result.error) {
      const dumped = context.dump(result.error) as { name?: string; message?: string } | undefined;
      result.error.dispose();
      if (interrupted || (dumped?.name === 'InternalError' && dumped.message === 'interrupted')) {
        return { at: progress(), error: { kind: 'timeout', message: `TimeoutError: the reducer used more than ${req.limits.cpuMsPerEvent} ms of CPU on this event`, stack: '' } };
      }
      return { at: progress(), error: { kind: 'memory', message: `MemoryError: the reducer exceeded its memory limit (${dumped?.name ?? 'Error'}: ${dumped?.message ?? ''})`, stack: '' } };
    }
    result.value.dispose();
  } catch (error) {
    // A WebAssembly trap: the engine hit the Memory's maximum (or worse) mid-operation.
    return { at: progress(), error: { kind: 'memory', message: `MemoryError: the reducer exceeded its ${req.limits.memoryBytes} bytes of memory (${errorText(error)})`, stack: '' } };
  } finally {
    startClock(Infinity);
    active = null;
  }
  return { result: toResult(a, req) };
}

/** The batch's result, from the driver's report checked against what the host itself saw. */
function toResult(a: Active, req: ThreadFold): FoldResult {
  const n = req.events.length;
  const o = a.outcome;
  const malformed = (): FoldResult => ({
    ...emptyResult(req),
    error: { kind: 'threw', message: 'Error: the reducer interfered with the sandbox (its output was malformed)', stack: '', index: req.events[0].index },
  });
  if (!o || !Number.isInteger(o.folded) || o.folded < 0 || o.folded > n) return malformed();
  const failed = o.errorKind !== '';
  if (failed && (o.folded >= n || !ERROR_KINDS.has(o.errorKind as FoldErrorKind))) return malformed();
  if (req.mode === 'keys') return keysResult(o, req, malformed);
  const keyed = req.mode === 'keyed';
  // Keyed mode: every folded event's state, joined by newlines (which no JSON text contains raw).
  const states = keyed ? (o.folded === 0 ? [] : (o.stateJson ?? '').split('\n')) : a.states;
  if (!keyed && o.folded > 0 && !storable(o.stateJson, req)) return malformed();
  if (keyed && states.length !== o.folded) return malformed();
  if (req.collectStates && !keyed && a.states.length < o.folded) return malformed();
  if (keyed && !states.every((s) => storable(s, req))) return malformed();
  const result: FoldResult = {
    stateJson: o.folded > 0 && !keyed ? o.stateJson! : req.stateJson,
    folded: o.folded,
    effects: a.effects.filter((e) => e.k < o.folded).map(({ k: _k, ...e }) => e as RecordedEffect),
  };
  if (req.collectStates || keyed) result.states = states.slice(0, o.folded);
  if (failed) result.error = { kind: o.errorKind as FoldErrorKind, message: o.errorMessage, stack: o.errorStack, index: req.events[o.folded].index };
  else if (o.folded < n) result.yielded = true;
  return result;
}

function storable(json: string | null, req: ThreadFold): json is string {
  return json !== null && !json.includes('\\u0000') && Buffer.byteLength(json) <= req.limits.stateBytes;
}

/**
 * keyBy's keys, checked again here: strings of 1..MAX_KEY_BYTES bytes or null. A key the driver let
 * through that cannot be stored (a NUL, a lone surrogate) stops the batch at its event.
 */
function keysResult(o: { folded: number; stateJson: string | null; errorKind: string; errorMessage: string; errorStack: string }, req: ThreadFold, malformed: () => FoldResult): FoldResult {
  let keys: unknown;
  try {
    keys = JSON.parse(o.stateJson ?? '');
  } catch {
    return malformed();
  }
  if (!Array.isArray(keys) || keys.length !== o.folded) return malformed();
  let folded = o.folded;
  let error: FoldError | undefined =
    o.errorKind !== '' ? { kind: o.errorKind as FoldErrorKind, message: o.errorMessage, stack: o.errorStack, index: req.events[o.folded].index } : undefined;
  for (let k = 0; k < keys.length; k++) {
    const key: unknown = keys[k];
    if (key === null) continue;
    if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_KEY_BYTES) return malformed();
    if (key.includes('\u0000') || !key.isWellFormed()) {
      folded = k;
      error = { kind: 'key', message: 'TypeError: keyBy returned a key with a NUL character or a lone surrogate, which cannot be stored', stack: '', index: req.events[k].index };
      break;
    }
  }
  const result: FoldResult = { stateJson: req.stateJson, folded, effects: [], keys: (keys as (string | null)[]).slice(0, folded) };
  if (error) result.error = error;
  else if (folded < req.events.length) result.yielded = true;
  return result;
}
