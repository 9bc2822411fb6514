// @ts-check
// This function never runs in Node: its source text is evaluated inside each reducer's QuickJS
// context (see engine.ts), before the reducer's own code. It must stay self-contained (no
// references outside its body) and plain JavaScript; driver.d.ts gives its type to engine.ts.
//
// It installs the sandbox's globals (Date fixed to the event's receive time, seeded Math.random, one
// recording function per effect kind) and returns the batch folder. Builtins it relies on are
// captured here first, so a reducer that later rewrites JSON or Date only confuses itself. Nothing it
// reports travels through objects the reducer could reach: results go to the host as primitives
// through host functions, and effects are validated by the host as they are recorded.

/**
 * @param {(ordinal: number) => void} tick restarts the host's CPU clock for the event at `ordinal`
 * @param {(text: string) => number} byteLength UTF-8 length of a string
 * @param {number} codeSeed seed for Math.random, from the code's digest
 * @param {string} kindsJson the effect kinds' sandbox functions: [[name, [param, ...]], ...]
 * @param {(ordinal: number, kind: number, argsJson: string) => string} emit records an effect; '' or why it was refused
 * @param {() => boolean} overBudget whether the current event has used more CPU than its budget
 * @param {(stateJson: string) => void} step the state after each event, when states are collected
 * @param {(folded: number, stateJson: string | null, errorKind: string, errorMessage: string, errorStack: string) => void} done the batch's outcome
 */
export function pipetDriver(tick, byteLength, codeSeed, kindsJson, emit, overBudget, step, done) {
  'use strict';
  const G = globalThis;
  const OrigDate = Date;
  const parse = JSON.parse;
  const stringify = JSON.stringify;
  const imul = Math.imul;
  const floor = Math.floor;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const defineProperty = Object.defineProperty;
  const getPrototypeOf = Object.getPrototypeOf;
  const create = Object.create;
  const NativeTypeError = TypeError;
  const NativeRangeError = RangeError;
  const NativePromise = Promise;
  const isArray = Array.isArray;
  const realNow = OrigDate.now;
  const dateParse = OrigDate.parse;
  const dateUTC = OrigDate.UTC;
  const dateToString = OrigDate.prototype.toString;
  const split = String.prototype.split;
  const indexOf = String.prototype.indexOf;
  const filter = Array.prototype.filter;
  const join = Array.prototype.join;
  const slice = Array.prototype.slice;
  const strSlice = String.prototype.slice;

  let now = 0; // the current event's receive time, ms since the epoch
  let ra = 0, rb = 0, rc = 0, rd = 0; // sfc32 state
  let seedIndex = -1; // the index whose generator is still to be seeded, -1 once seeded
  let position = 0; // ordinal of the event being folded, read by the host after an interrupt
  let folding = false;
  const KEY_BYTES = 512;

  // ---- time: Date.now() and new Date() are the event's receive time ----
  /** @this {unknown} */
  function SandboxDate(/** @type {any[]} */ ...args) {
    if (new.target === undefined) return apply(dateToString, construct(OrigDate, [now]), []);
    return construct(OrigDate, args.length === 0 ? [now] : args, new.target);
  }
  defineProperty(SandboxDate, 'name', { value: 'Date' });
  defineProperty(SandboxDate, 'prototype', { value: OrigDate.prototype, writable: false });
  defineProperty(OrigDate.prototype, 'constructor', { value: SandboxDate, writable: true, configurable: true, enumerable: false });
  defineProperty(SandboxDate, 'now', { value: function now_() { return now; }, writable: true, configurable: true });
  defineProperty(SandboxDate, 'parse', { value: dateParse, writable: true, configurable: true });
  defineProperty(SandboxDate, 'UTC', { value: dateUTC, writable: true, configurable: true });
  defineProperty(G, 'Date', { value: SandboxDate, writable: true, configurable: true, enumerable: false });

  // ---- randomness: seeded from the code and the event index, so replays draw the same numbers ----
  /** @param {number} h */
  function fmix(h) {
    h ^= h >>> 16; h = imul(h, 0x85ebca6b); h ^= h >>> 13; h = imul(h, 0xc2b2ae35); h ^= h >>> 16;
    return h >>> 0;
  }
  /** @param {number} index */
  function seed(index) {
    const lo = index >>> 0;
    const hi = floor(index / 4294967296) >>> 0;
    ra = fmix(codeSeed ^ 0x9e3779b9); rb = fmix(lo ^ imul(codeSeed, 0x27d4eb2f)); rc = fmix(hi ^ 0x165667b1); rd = fmix(ra ^ rb ^ rc ^ 1);
    for (let i = 0; i < 12; i++) random();
  }
  function random() {
    if (seedIndex >= 0) {
      const index = seedIndex;
      seedIndex = -1;
      seed(index);
    }
    ra >>>= 0; rb >>>= 0; rc >>>= 0; rd >>>= 0;
    let t = (ra + rb) | 0;
    ra = rb ^ (rb >>> 9);
    rb = (rc + (rc << 3)) | 0;
    rc = (rc << 21) | (rc >>> 11);
    rd = (rd + 1) | 0;
    t = (t + rd) | 0;
    rc = (rc + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  defineProperty(Math, 'random', { value: function random_() { return random(); }, writable: true, configurable: true });

  // ---- effects: one recording function per kind; the host validates and keeps what is recorded ----
  /**
   * @param {string} fn
   * @returns {(key: string, value: unknown) => unknown}
   */
  function jsonOnly(fn) {
    return function (key, value) {
      const type = typeof value;
      if (type === 'function' || type === 'symbol') {
        throw new NativeTypeError(fn + ': ' + (key === '' ? 'arguments' : key) + ' must be a JSON value, not ' + type);
      }
      return value;
    };
  }
  /**
   * @param {number} kind
   * @param {string} name
   * @param {string[]} params
   */
  function installKind(kind, name, params) {
    const fn = name + '(' + apply(join, params, [', ']) + ')';
    const replacer = jsonOnly(fn);
    const record = function (/** @type {any[]} */ ...args) {
      if (!folding) throw new NativeTypeError(fn + ': effects can only be recorded while an event is folded');
      const named = create(null);
      for (let i = 0; i < params.length; i++) if (args[i] !== undefined) named[params[i]] = args[i];
      let json;
      try {
        json = stringify(named, replacer);
      } catch (e) {
        if (e instanceof NativeTypeError && apply(indexOf, /** @type {Error} */ (e).message, [fn]) === 0) throw e;
        throw new NativeTypeError(fn + ': arguments must be JSON-serializable (' + (e && /** @type {Error} */ (e).message) + ')');
      }
      const refused = emit(position, kind, json);
      if (refused !== '') throw new NativeTypeError(refused);
    };
    defineProperty(record, 'name', { value: name });
    defineProperty(G, name, { value: record, writable: true, configurable: true });
  }
  const kinds = parse(kindsJson);
  for (let k = 0; k < kinds.length; k++) installKind(k, kinds[k][0], kinds[k][1]);

  // ---- errors: a message and the reducer's own stack frames ----
  /**
   * @param {string} kind
   * @param {unknown} e
   */
  function describe(kind, e) {
    let name = 'Error';
    let message = '';
    let stack = '';
    try {
      const err = /** @type {any} */ (e);
      if (err !== null && typeof err === 'object' && typeof err.message === 'string') {
        name = typeof err.name === 'string' ? err.name : 'Error';
        message = err.message;
        stack = typeof err.stack === 'string' ? err.stack : '';
      } else {
        message = typeof e === 'string' ? e : stringify(e) || String(e);
        name = 'Uncaught';
      }
    } catch (_) {
      message = 'a value that cannot be described was thrown';
    }
    if (name === 'InternalError' && message === 'out of memory') kind = 'memory';
    const frames = apply(filter, apply(split, stack, ['\n']), [(/** @type {string} */ line) => apply(indexOf, line, ['reducer.js']) >= 0 || apply(indexOf, line, ['key-by.js']) >= 0]);
    return {
      kind: kind,
      message: apply(strSlice, name + ': ' + message, [0, 2000]),
      stack: apply(strSlice, apply(join, apply(slice, frames, [0, 20]), ['\n']), [0, 4000]),
    };
  }

  // UTF-8 length against the limit: a host call (native speed) only when the length in UTF-16
  // units leaves the answer open.
  /**
   * @param {string} text
   * @param {number} limit
   */
  function overLimit(text, limit) {
    if (text.length > limit) return true;
    if (text.length * 3 <= limit) return false;
    return byteLength(text) > limit;
  }

  /**
   * What keyBy returned, as a key (a string), null (pass over the event) or an Error to stop on.
   * @param {unknown} key
   */
  function toKey(key) {
    if (key === null || key === undefined) return null;
    if (typeof key === 'number') {
      if (key === key && key !== Infinity && key !== -Infinity) return '' + key;
      return describe('key', new NativeTypeError('keyBy returned ' + key + '; a number key must be finite'));
    }
    if (typeof key === 'string') {
      if (key.length === 0) return describe('key', new NativeTypeError('keyBy returned an empty string; a key must be a non-empty string'));
      if (overLimit(key, KEY_BYTES)) return describe('key', new NativeRangeError('keyBy returned a key longer than ' + KEY_BYTES + ' bytes of UTF-8'));
      return key;
    }
    const what = isArray(key) ? 'an array' : typeof key === 'object' ? 'an object' : 'a ' + typeof key;
    return describe('key', new NativeTypeError('keyBy returned ' + what + '; a key must be a non-empty string of at most ' + KEY_BYTES + ' bytes or a finite number (null or undefined passes over the event)'));
  }

  /**
   * Folds one batch, or as much of it as fits in `y` ms of wall time. input: { md: mode (0 fold,
   * 1 keys: run keyBy, 2 keyed: fold each event into its key's state), s: state (keyed: the initial
   * state of a new key), k: keyed: each event's key, ks: keyed: stored states of those keys,
   * i: indexes, t: receive times, b: bodies, st: stream, c: collect states, m: state byte limit,
   * y: slice ms, u: CPU ms per event }. The outcome goes to the host through `done` (keyed mode: every
   * event's state, joined by newlines) and `step` (each state, when collecting).
   * @param {Function} reducer
   * @param {string} inputJson
   */
  function fold(reducer, inputJson) {
    const input = parse(inputJson);
    const mode = input.md | 0;
    const n = input.i.length;
    const collect = input.c === 1 && mode !== 2;
    // Keyed mode hands every state back at once (one host call per batch, not per event).
    /** @type {string[]} */
    const outs = [];
    const limit = input.m;
    const budget = input.u;
    const started = realNow();
    let state = input.s;
    const initialJson = mode === 2 ? stringify(input.s) : '';
    /** @type {Record<string, unknown>} */
    const states = create(null);
    if (mode === 2) for (const key in input.ks) states[key] = input.ks[key];
    /** @type {(string | null)[]} */
    const keys = [];
    let lastTick = -Infinity;
    /** @type {string | null} */
    let stateJson = null;
    let folded = 0;
    /** @type {{ kind: string, message: string, stack: string } | null} */
    let error = null;
    // keyBy records no effects: it only names the state an event belongs to.
    folding = mode !== 1;
    for (let k = 0; k < n; k++) {
      const t = realNow();
      // A slice of wall time, so one batch never holds a sandbox thread long: the rest is folded
      // by the next call, after other teams' work had its turn.
      if (k > 0 && t - started >= input.y) break;
      position = k;
      // The host's CPU clock restarts at each tick. Ticking costs a host call, so it happens only
      // when a millisecond has passed: the clock then starts at most ~2 ms before the event did.
      if (t - lastTick >= 1) {
        lastTick = t;
        tick(k);
      }
      const index = input.i[k];
      now = input.t[k];
      seedIndex = index;
      if (mode === 1) {
        let key;
        try {
          key = toKey(reducer(input.b[k], index));
        } catch (e) {
          key = describe('threw', e);
        }
        if (key !== null && typeof key === 'object') error = key;
        else if (realNow() - t >= budget && overBudget()) error = { kind: 'timeout', message: 'TimeoutError: keyBy used more than ' + budget + ' ms of CPU on this event', stack: '' };
        if (error !== null) break;
        keys[keys.length] = key;
        folded = k + 1;
        continue;
      }
      const key = mode === 2 ? input.k[k] : null;
      if (mode === 2) state = key in states ? states[key] : parse(initialJson);
      let next;
      let json = '';
      try {
        // `stream.length` is the array's length when this event was appended (index + 1), so a
        // replay sees what the live fold saw; a fresh object per event keeps batches independent.
        const meta = mode === 2 ? { team: input.st.team, name: input.st.name, length: index + 1, key: key } : { team: input.st.team, name: input.st.name, length: index + 1 };
        next = reducer(state, input.b[k], index, meta);
        if (next instanceof NativePromise || (next !== null && typeof next === 'object' && getPrototypeOf(next) === NativePromise.prototype)) {
          error = describe('not_json', new NativeTypeError('the reducer returned a Promise; reducers must be synchronous and return the new state'));
        } else if (typeof next === 'function' || typeof next === 'symbol' || next === undefined) {
          error = describe('not_json', new NativeTypeError('the reducer returned ' + (next === undefined ? 'undefined' : 'a ' + typeof next) + ', which is not JSON; return the new state (null is fine)'));
        }
      } catch (e) {
        error = describe('threw', e);
      }
      if (error === null) {
        try {
          const text = stringify(next);
          if (text === undefined) error = describe('not_json', new NativeTypeError('the reducer returned a value with no JSON form'));
          else json = text;
        } catch (e) {
          error = describe('not_json', e);
        }
      }
      if (error === null && apply(indexOf, json, ['\\u0000']) >= 0) {
        error = describe('not_json', new NativeTypeError('the new state contains the NUL character (\\u0000), which cannot be stored'));
      }
      if (error === null && overLimit(json, limit)) {
        error = describe('state_too_large', new NativeRangeError('the new state is larger than ' + limit + ' bytes of JSON' + (mode === 2 ? ' (the limit is per key)' : '')));
      }
      // Work the CPU interrupt never saw (one long builtin call) still counts against the budget.
      if (error === null && realNow() - t >= budget && overBudget()) {
        error = { kind: 'timeout', message: 'TimeoutError: the reducer used more than ' + budget + ' ms of CPU on this event', stack: '' };
      }
      if (error !== null) break;
      // The next event sees exactly what a reload from storage would give.
      if (mode === 2) {
        states[/** @type {string} */ (key)] = parse(json);
        outs[outs.length] = json;
      } else state = parse(json);
      stateJson = json;
      if (collect) step(json);
      folded = k + 1;
    }
    folding = false;
    // JSON.stringify never writes a raw newline, so the keyed states are joined by one.
    const out = mode === 1 ? stringify(keys) : mode === 2 ? apply(join, outs, ['\n']) : stateJson;
    if (error === null) done(folded, out, '', '', '');
    else done(folded, out, error.kind, error.message, error.stack);
  }
  defineProperty(fold, 'position', { value: () => position });
  return fold;
}
