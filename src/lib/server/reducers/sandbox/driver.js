// @ts-nocheck — this function never runs in Node: its source text is evaluated inside each
// reducer's QuickJS context (see engine.ts), before the reducer's own code. It must stay
// self-contained (no references outside its body) and plain JavaScript.
//
// It installs the sandbox's globals (Date fixed to the event's receive time, seeded Math.random,
// request/email/schedule recording effects) and returns the batch folder. Builtins it relies on are
// captured here first, so a reducer that later rewrites JSON or Date only confuses itself.
export function pipetDriver(tick, byteLength, codeSeed) {
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
  const isArray = Array.isArray;
  const keys = Object.keys;
  const isFinite = Number.isFinite;
  const NativeError = Error;
  const NativeTypeError = TypeError;
  const NativeRangeError = RangeError;
  const NativePromise = Promise;
  const regexpTest = RegExp.prototype.test;
  const realNow = OrigDate.now;
  const dateParse = OrigDate.parse;
  const dateUTC = OrigDate.UTC;
  const dateToString = OrigDate.prototype.toString;
  const dateToISOString = OrigDate.prototype.toISOString;
  const toUpperCase = String.prototype.toUpperCase;
  const toLowerCase = String.prototype.toLowerCase;
  const split = String.prototype.split;
  const filter = Array.prototype.filter;
  const join = Array.prototype.join;
  const indexOf = String.prototype.indexOf;

  const MAX_EFFECTS_PER_EVENT = 100;
  const MAX_EFFECT_BYTES = 256 * 1024;
  const METHODS = { GET: 1, POST: 1, PUT: 1, PATCH: 1, DELETE: 1 };
  const RESERVED_HEADERS = { 'webhook-id': 1, 'webhook-timestamp': 1, 'webhook-signature': 1, host: 1, 'content-length': 1 };
  const URL_RE = /^https?:\/\/[^\s/?#]+[^\s]*$/i;
  const HEADER_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
  const ADDRESS_RE = /^(?:[^@\s<>",]+@[^@\s<>",]+|[^<>\r\n]*<[^@\s<>",]+@[^@\s<>",]+>)$/;
  const ISO_RE = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;
  const LINE_BREAK_RE = /[\r\n]/;
  const test = (re, s) => apply(regexpTest, re, [s]);

  let now = 0; // the current event's receive time, ms since the epoch
  let effects = null; // effects recorded by the current event, allocated on the first
  let ra = 0, rb = 0, rc = 0, rd = 0; // sfc32 state
  let seedIndex = -1; // the index whose generator is still to be seeded, -1 once seeded
  let position = 0; // ordinal of the event being folded, read by the host after an interrupt
  let lastTick = -Infinity;

  // ---- time: Date.now() and new Date() are the event's receive time ----
  function SandboxDate(...args) {
    if (new.target === undefined) return apply(dateToString, construct(OrigDate, [now]), []);
    return construct(OrigDate, args.length === 0 ? [now] : args, new.target);
  }
  defineProperty(SandboxDate, 'name', { value: 'Date' });
  defineProperty(SandboxDate, 'prototype', { value: OrigDate.prototype, writable: false });
  defineProperty(OrigDate.prototype, 'constructor', { value: SandboxDate, writable: true, configurable: true, enumerable: false });
  defineProperty(SandboxDate, 'now', { value: function now() { return nowValue(); }, writable: true, configurable: true });
  defineProperty(SandboxDate, 'parse', { value: dateParse, writable: true, configurable: true });
  defineProperty(SandboxDate, 'UTC', { value: dateUTC, writable: true, configurable: true });
  defineProperty(G, 'Date', { value: SandboxDate, writable: true, configurable: true, enumerable: false });
  function nowValue() { return now; }

  // ---- randomness: seeded from the code and the event index, so replays draw the same numbers ----
  function fmix(h) {
    h ^= h >>> 16; h = imul(h, 0x85ebca6b); h ^= h >>> 13; h = imul(h, 0xc2b2ae35); h ^= h >>> 16;
    return h >>> 0;
  }
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

  // ---- effects: recorded, never performed ----
  function record(kind, payload, fn) {
    if (effects === null) effects = [];
    if (effects.length >= MAX_EFFECTS_PER_EVENT) {
      throw new NativeRangeError(fn + ': at most ' + MAX_EFFECTS_PER_EVENT + ' effects per event');
    }
    effects[effects.length] = { kind: kind, payload: payload };
  }
  function jsonCopy(value, what) {
    let text;
    try {
      text = stringify(value);
    } catch (e) {
      throw new NativeTypeError(what + ' must be JSON-serializable (' + (e && e.message) + ')');
    }
    if (text === undefined) throw new NativeTypeError(what + ' must be a JSON value, not ' + typeof value);
    if (text.length > MAX_EFFECT_BYTES) throw new NativeRangeError(what + ' is larger than ' + MAX_EFFECT_BYTES + ' bytes of JSON');
    return parse(text);
  }
  function isPlainObject(v) {
    return v !== null && typeof v === 'object' && !isArray(v);
  }
  function address(v, what) {
    if (typeof v !== 'string' || v.length > 320 || !test(ADDRESS_RE, v)) {
      throw new NativeTypeError(what + ' must be an email address string like "ada@example.com" or "Ada <ada@example.com>"');
    }
    return v;
  }
  function optionalText(v, what) {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw new NativeTypeError(what + ' must be a string');
    if (v.length > MAX_EFFECT_BYTES) throw new NativeRangeError(what + ' is longer than ' + MAX_EFFECT_BYTES + ' characters');
    return v;
  }

  function request(url, options) {
    const fn = 'request(url, options)';
    if (typeof url !== 'string' || url.length > 2048 || !test(URL_RE, url)) {
      throw new NativeTypeError(fn + ': url must be an http:// or https:// URL string');
    }
    if (options === undefined || options === null) options = {};
    if (!isPlainObject(options)) throw new NativeTypeError(fn + ': options must be an object { method, headers, body }');
    let method = options.method === undefined ? 'POST' : options.method;
    if (typeof method !== 'string' || METHODS[apply(toUpperCase, method, [])] !== 1) {
      throw new NativeTypeError(fn + ': method must be one of GET, POST, PUT, PATCH, DELETE');
    }
    method = apply(toUpperCase, method, []);
    const headers = {};
    if (options.headers !== undefined && options.headers !== null) {
      if (!isPlainObject(options.headers)) throw new NativeTypeError(fn + ': headers must be an object of strings');
      const names = keys(options.headers);
      if (names.length > 50) throw new NativeRangeError(fn + ': at most 50 headers');
      for (let i = 0; i < names.length; i++) {
        const name = names[i];
        const value = options.headers[name];
        if (!test(HEADER_RE, name)) throw new NativeTypeError(fn + ': invalid header name ' + stringify(name));
        if (RESERVED_HEADERS[apply(toLowerCase, name, [])] === 1) throw new NativeTypeError(fn + ': header ' + name + ' is set by Pipet');
        if (typeof value !== 'string' || test(LINE_BREAK_RE, value) || value.length > 8192) {
          throw new NativeTypeError(fn + ': header ' + name + ' must be a single-line string');
        }
        headers[name] = value;
      }
    }
    const body = options.body === undefined ? null : jsonCopy(options.body, fn + ': body');
    record('webhook', { url: url, method: method, headers: headers, body: body }, fn);
  }

  function email(message) {
    const fn = 'email({ to, subject, text, html, replyTo })';
    if (!isPlainObject(message)) throw new NativeTypeError(fn + ': expects one object');
    let to = message.to;
    if (isArray(to)) {
      if (to.length === 0 || to.length > 50) throw new NativeTypeError(fn + ': to must list 1 to 50 addresses');
      const list = [];
      for (let i = 0; i < to.length; i++) list[i] = address(to[i], fn + ': to[' + i + ']');
      to = list;
    } else {
      to = address(to, fn + ': to');
    }
    const subject = message.subject;
    if (typeof subject !== 'string' || subject.length === 0 || subject.length > 998 || test(LINE_BREAK_RE, subject)) {
      throw new NativeTypeError(fn + ': subject must be a non-empty single-line string');
    }
    const payload = { to: to, subject: subject };
    const text = optionalText(message.text, fn + ': text');
    const html = optionalText(message.html, fn + ': html');
    if (text !== undefined) payload.text = text;
    if (html !== undefined) payload.html = html;
    if (message.replyTo !== undefined && message.replyTo !== null) payload.replyTo = address(message.replyTo, fn + ': replyTo');
    record('email', payload, fn);
  }

  function schedule(delay, event) {
    const fn = 'schedule(delay, event)';
    let due;
    if (typeof delay === 'number') {
      if (!isFinite(delay) || delay < 0) throw new NativeTypeError(fn + ': delay must be a number of milliseconds >= 0');
      due = now + delay;
    } else if (typeof delay === 'string') {
      due = test(ISO_RE, delay) ? dateParse(delay) : NaN;
      if (!isFinite(due)) throw new NativeTypeError(fn + ': delay must be milliseconds or an ISO date string such as "2030-01-01T00:00:00Z"');
    } else {
      throw new NativeTypeError(fn + ': delay must be milliseconds or an ISO date string (for a Date, pass date.toISOString())');
    }
    let dueAt;
    try {
      dueAt = apply(dateToISOString, construct(OrigDate, [due]), []);
    } catch (e) {
      throw new NativeRangeError(fn + ': the due date is out of range');
    }
    if (event === undefined) throw new NativeTypeError(fn + ': event is required (any JSON value)');
    record('timer', { dueAt: dueAt, event: jsonCopy(event, fn + ': event') }, fn);
  }

  defineProperty(G, 'request', { value: request, writable: true, configurable: true });
  defineProperty(G, 'email', { value: email, writable: true, configurable: true });
  defineProperty(G, 'schedule', { value: schedule, writable: true, configurable: true });

  // ---- errors: a message and the reducer's own stack frames ----
  function describe(kind, e) {
    let name = 'Error';
    let message = '';
    let stack = '';
    try {
      if (e !== null && typeof e === 'object' && typeof e.message === 'string') {
        name = typeof e.name === 'string' ? e.name : 'Error';
        message = e.message;
        stack = typeof e.stack === 'string' ? e.stack : '';
      } else {
        message = typeof e === 'string' ? e : stringify(e) || String(e);
        name = 'Uncaught';
      }
    } catch (_) {
      message = 'a value that cannot be described was thrown';
    }
    if (name === 'InternalError' && message === 'out of memory') kind = 'memory';
    const frames = apply(filter, apply(split, stack, ['\n']), [(line) => apply(indexOf, line, ['reducer.js']) >= 0]);
    return {
      kind: kind,
      message: (name + ': ' + message).slice(0, 2000),
      stack: apply(join, frames.slice(0, 20), ['\n']).slice(0, 4000),
    };
  }

  // UTF-8 length against the limit: a host call (native speed) only when the length in UTF-16
  // units leaves the answer open.
  function overLimit(text, limit) {
    if (text.length > limit) return true;
    if (text.length * 3 <= limit) return false;
    return byteLength(text) > limit;
  }

  // Folds one batch. input: { s: state, i: indexes, t: receive times, b: bodies, st: stream, c: collect states, m: state byte limit }.
  // Returns JSON text: { folded, state (JSON text of the last folded state), effects, states?, error? }.
  function fold(reducer, inputJson) {
    const input = parse(inputJson);
    const n = input.i.length;
    if (input.b.length !== n || input.t.length !== n) throw new NativeError('malformed batch');
    const collect = input.c === 1;
    const limit = input.m;
    let state = input.s;
    lastTick = -Infinity;
    let stateJson = null;
    const out = [];
    const states = [];
    let folded = 0;
    let error = null;
    for (let k = 0; k < n; k++) {
      // The host's CPU clock restarts at each tick. Ticking costs a host call, so it happens only
      // when a millisecond has passed: the clock then starts at most ~2 ms before the event did.
      position = k;
      const t = realNow();
      if (t - lastTick >= 1) {
        lastTick = t;
        tick(k);
      }
      const index = input.i[k];
      now = input.t[k];
      seedIndex = index;
      effects = null;
      let next;
      let json;
      try {
        // `stream.length` is the array's length when this event was appended (index + 1), so a
        // replay sees what the live fold saw; a fresh object per event keeps batches independent.
        next = reducer(state, input.b[k], index, { team: input.st.team, name: input.st.name, length: index + 1 });
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
          json = stringify(next);
          if (json === undefined) error = describe('not_json', new NativeTypeError('the reducer returned a value with no JSON form'));
        } catch (e) {
          error = describe('not_json', e);
        }
      }
      if (error === null && overLimit(json, limit)) {
        error = describe('state_too_large', new NativeRangeError('the new state is larger than ' + limit + ' bytes of JSON'));
      }
      if (error !== null) {
        error.at = k;
        break;
      }
      state = parse(json); // the next event sees exactly what a reload from storage would give
      stateJson = json;
      if (effects !== null) {
        for (let j = 0; j < effects.length; j++) {
          out[out.length] = { eventIndex: index, ordinal: j, kind: effects[j].kind, payload: effects[j].payload };
        }
      }
      if (collect) states[states.length] = json;
      folded = k + 1;
    }
    effects = null;
    const result = { folded: folded, state: stateJson, effects: out };
    if (collect) result.states = states;
    if (error !== null) result.error = error;
    return stringify(result);
  }
  defineProperty(fold, 'position', { value: () => position });
  return fold;
}
