// Stopping within a bound (SHUTDOWN_TIMEOUT_MS): the registry of live responses that shutdown ends
// (Server-Sent Events and long-polls, which would otherwise hold their connections open), and the
// signal handling that web and worker processes share.
import cluster from 'node:cluster';
import { env } from './env.ts';
import { AppError } from './errors.ts';

/** How long a supervisor waits past a child's own bound before it kills the child. */
export const SUPERVISOR_GRACE_MS = 1_000;

const live = new Set<AbortController>();
let draining = false;

export type LiveResponse = {
  /** Aborts when the client goes away or when this process starts shutting down. */
  signal: AbortSignal;
  /** True once the process is shutting down: end with a retry hint rather than an answer. */
  draining(): boolean;
  /** Call when the response has ended. */
  release(): void;
};

/** Registers a live response (an SSE stream or a long-poll) so that shutdown can end it. */
export function holdOpen(request: Request): LiveResponse {
  const controller = new AbortController();
  const abort = () => controller.abort();
  if (draining || request.signal.aborted) abort();
  else {
    live.add(controller);
    request.signal.addEventListener('abort', abort, { once: true });
  }
  return {
    signal: controller.signal,
    draining: () => draining,
    release() {
      live.delete(controller);
      request.signal.removeEventListener('abort', abort);
    },
  };
}

/** True once this process has started shutting down. */
export function isDraining(): boolean {
  return draining;
}

/** Ends every live response, now and from now on; returns how many were open. */
export function endLiveResponses(): number {
  draining = true;
  const open = live.size;
  for (const controller of live) controller.abort();
  live.clear();
  return open;
}

/**
 * The last lines of an SSE stream ended by shutdown: a comment saying why and a short, jittered
 * reconnection delay, so EventSource clients come back (with Last-Event-ID) to another process
 * without all arriving at once.
 */
export function sseRestartHint(): string {
  return `: server restarting; reconnect with Last-Event-ID\nretry: ${250 + Math.floor(Math.random() * 750)}\n\n`;
}

/** The answer to a long-poll cut short by shutdown: 503 with Retry-After, as for any retryable wait. */
export function restartingError(): AppError {
  return new AppError('unavailable', 'This server is restarting; retry and another one will answer.', { retryAfter: 1 });
}

/** Resolves true if `promise` settles within `ms`, false otherwise (the promise carries on). */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([promise.then(() => true as const, () => true as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The part of the bound kept for closing pools after draining: a quarter, at most 2 s. */
export function closingBudget(boundMs: number): number {
  return Math.min(2_000, Math.floor(boundMs / 4));
}

/**
 * True when a supervisor (`npm start`) spawned this process with an IPC channel and owns its
 * lifetime. Cluster workers are excluded: node:cluster already exits them when their primary dies.
 */
export function supervised(): boolean {
  return !!process.channel && !cluster.isWorker;
}

export type ExitOnSignalOptions = {
  log?: (line: string) => void;
  /** The bound after which the process exits whatever `stop` is doing. */
  boundMs?: number;
  /** What SIGHUP does when no supervisor owns this process (supervised processes ignore it). */
  onHangup?: () => void;
};

/**
 * Runs `stop` once, on the first SIGTERM or SIGINT, then exits 0; exits 1 if the bound passes
 * first. A supervised process also stops when its supervisor goes away, even if it was SIGKILLed
 * (the IPC channel closes): it re-raises SIGTERM on itself so everything that listens for the
 * signal (adapter-node's server among them) takes part. Returns a function that starts the stop.
 */
export function exitOnSignal(stop: (reason: string) => Promise<void>, options: ExitOnSignalOptions = {}): (reason: string) => void {
  const { log = console.log, boundMs = env().SHUTDOWN_TIMEOUT_MS } = options;
  let started = false;
  const begin = (reason: string) => {
    if (started) return;
    started = true;
    setTimeout(() => {
      log(`Shutdown bound of ${boundMs} ms reached: cutting whatever is still open.`);
      process.exit(1);
    }, boundMs).unref();
    stop(reason).then(
      () => process.exit(0),
      (error: unknown) => {
        log(`Shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => begin('SIGTERM'));
  process.on('SIGINT', () => begin('SIGINT'));
  if (supervised()) {
    // A terminal's hang-up reaches the whole process group; the supervisor decides what it means.
    process.on('SIGHUP', () => {});
    process.once('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  } else {
    process.on('SIGHUP', options.onHangup ?? (() => begin('SIGHUP')));
  }
  return begin;
}
