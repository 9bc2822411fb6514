// The reducer sandbox: untrusted JavaScript folded in QuickJS/WebAssembly, in worker threads.
export { closeSandbox, defaultLimits, foldBatch, foldSlice, threadEntryPath, type PoolName } from './pool.ts';
export type { FoldError, FoldErrorKind, FoldRequest, FoldResult, RecordedEffect, SandboxEvent, SandboxLimits } from './types.ts';
export { MAX_EFFECTS_PER_EVENT, MAX_EFFECT_BYTES, MAX_KEY_BYTES } from './types.ts';
