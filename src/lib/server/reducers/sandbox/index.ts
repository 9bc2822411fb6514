// The reducer sandbox: untrusted JavaScript folded in QuickJS/WebAssembly, in worker threads.
export { closeSandbox, defaultLimits, foldBatch, foldSlice, threadEntryPath, type FoldOptions, type PoolName } from './pool.ts';
export { CallBudget, clientGone, currentBudget, withBudget } from './budget.ts';
export type { FoldError, FoldErrorKind, FoldRequest, FoldResult, RecordedEffect, SandboxEvent, SandboxLimits } from './types.ts';
export { MAX_EFFECTS_PER_EVENT, MAX_EFFECT_BYTES, MAX_KEY_BYTES } from './types.ts';
