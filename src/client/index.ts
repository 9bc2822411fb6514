// `pipet/client`: the Array with a URL, typed, for Node 20+, browsers, Deno and Bun (fetch and web streams only).
export { Pipet, type PipetOptions } from './pipet.ts';
export { PipetStream, type Entry, type PushResult, type PushManyResult, type StateChange, type PushOptions, type TailOptions, type RangeOptions, type StateOptions, type WatchOptions } from './stream.ts';
export { PipetError, type PipetErrorCode } from './errors.ts';
export { MANAGE_MAX_BATCH, type PipetManage, type AppRouter } from './manage.ts';
export type { BatchOptions, BatchErrorHandler } from './batcher.ts';
export type { RetryPolicy } from './retry.ts';
