// The sandbox's vocabulary, shared by the pool (caller side), the thread and the engine.
import type { EffectKind } from '../../../schemas/vocabulary.ts';
import type { EffectPayloads } from '../../effects/kinds/index.ts';

/** Effects one event may record, and the JSON size of one effect's arguments. */
export const MAX_EFFECTS_PER_EVENT = 100;
export const MAX_EFFECT_BYTES = 256 * 1024;

export type SandboxLimits = { cpuMsPerEvent: number; memoryBytes: number; stateBytes: number };
export type SandboxEvent = { index: number; bodyJson: string; receivedAt: number /* ms epoch */ };

/** An effect a folded event recorded, validated by the host against its kind. Ordinals count from 0 per event. */
export type RecordedEffect = { [K in EffectKind]: { eventIndex: number; ordinal: number; kind: K; payload: EffectPayloads[K] } }[EffectKind];

export type FoldRequest = {
  /** Whose work this is (a team id): the pool shares its threads fairly among tenants. */
  tenant?: string;
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
  /**
   * Keyed reducers fold in two calls: `keys` runs `code` (the keyBy function) over the events and
   * returns each event's key; `keyed` folds each event into the state of `keys[i]`, starting from
   * `keyStatesJson` (a JSON object of the stored states of those keys) or, for a key not in it, from
   * `stateJson` (the initial state), and returns every event's new state in `states`.
   */
  mode?: 'keys' | 'keyed';
  keys?: string[];
  keyStatesJson?: string;
};

/** A key is a non-empty string of at most this many bytes of UTF-8 (numbers become their decimal string). */
export const MAX_KEY_BYTES = 512;

export type FoldErrorKind = 'threw' | 'timeout' | 'memory' | 'state_too_large' | 'not_json' | 'compile' | 'key';
export type FoldError = { message: string; stack: string; index: number; kind: FoldErrorKind };

export type FoldResult = {
  /** State after the last event that folded successfully. */
  stateJson: string;
  /** How many events of the batch folded successfully (a prefix). */
  folded: number;
  /** Effects recorded by the folded events only, in order. */
  effects: RecordedEffect[];
  /** With collectStates (and always in `keyed` mode), the state JSON after each folded event. */
  states?: string[];
  /** `keys` mode: each folded event's key, null where keyBy passed over it. */
  keys?: (string | null)[];
  error?: FoldError;
  /** The call's time slice ran out before the batch did (no error): fold the rest with another call. */
  yielded?: true;
};

/** What the pool sends a thread: the request with its limits resolved. */
export type ThreadFold = Omit<FoldRequest, 'limits' | 'tenant'> & { limits: SandboxLimits; sliceMs: number; keep: boolean };
export type ThreadData = { progress: SharedArrayBuffer; idleMs: number; cacheBytes: number };
export type ThreadRequest = { id: number; req: ThreadFold };
export type ThreadReply = { id: number; result?: FoldResult; failure?: string } | { ready: true; warmUpMs: number };

export const emptyResult = (req: { stateJson: string; collectStates?: boolean; mode?: FoldRequest['mode'] }): FoldResult => ({
  stateJson: req.stateJson,
  folded: 0,
  effects: [],
  ...(req.collectStates || req.mode === 'keyed' ? { states: [] } : {}),
  ...(req.mode === 'keys' ? { keys: [] } : {}),
});
