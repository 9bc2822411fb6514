// Long-lived answers on the public API (Server-Sent Events, long-polls): how many one caller may
// hold open in this process, how long one may live, and re-authorization while it lives — a key
// revoked, a member removed or a session ended loses its open streams and long-polls within
// LIVE_REAUTH_MS, not at the next request.
import { AppError } from '../errors.ts';
import { env } from '../env.ts';
import { holdOpen, type LiveResponse } from '../lifecycle.ts';
import type { StreamContext } from './stream-route.ts';

export type Live = LiveResponse & {
  /** Why it ended on our side, if it did: the caller lost access, or it reached its maximum age. */
  endedBecause(): 'refused' | 'expired' | null;
};

const open = new Map<string, number>();

function cap(ctx: StreamContext): number {
  const e = env();
  return ctx.anonymous ? e.LIVE_CONNECTIONS_PER_ADDRESS : e.LIVE_CONNECTIONS_PER_CALLER;
}

/**
 * Opens a live answer for this request: counted against its caller's cap (429 beyond), ended by
 * shutdown, by its maximum age, or when re-authorization fails.
 */
export function openLive(ctx: StreamContext, _kind: { sse: boolean }): Live {
  const e = env();
  const who = ctx.principal;
  const n = open.get(who) ?? 0;
  if (n >= cap(ctx)) {
    throw new AppError('rate_limited', `Too many open streams and long-polls for this ${ctx.anonymous ? 'address' : 'caller'} (${cap(ctx)}); close some first.`, { retryAfter: 5 });
  }
  open.set(who, n + 1);
  const live = holdOpen(ctx.event.request);
  const end = new AbortController();
  const signal = AbortSignal.any([live.signal, end.signal]);
  let reason: 'refused' | 'expired' | null = null;
  const finish = (why: 'refused' | 'expired') => {
    reason ??= why;
    end.abort();
  };
  const age = setTimeout(() => finish('expired'), e.LIVE_MAX_AGE_MS);
  // Streams and long-polls alike: a long-poll may wait a minute, longer than the re-auth bound.
  const check = setInterval(() => {
    ctx.reauthorize().then((ok) => ok || finish('refused'), () => {});
  }, e.LIVE_REAUTH_MS);
  let released = false;
  return {
    signal,
    draining: live.draining,
    endedBecause: () => reason,
    release() {
      if (released) return;
      released = true;
      clearTimeout(age);
      clearInterval(check);
      live.release();
      const left = (open.get(who) ?? 1) - 1;
      if (left > 0) open.set(who, left);
      else open.delete(who);
    },
  };
}

/** A long-poll whose caller lost access while it waited answers 401, as its next request would. */
export function throwIfRefused(live: Live): void {
  if (live.endedBecause() === 'refused') throw new AppError('unauthorized', 'Access to this stream was revoked while waiting (a key revoked, a session ended or a member removed).');
}

/** The last lines of a stream ended on our side: why, and when (not) to come back. */
export function sseEnding(live: Live, restartHint: string): string {
  const why = live.endedBecause();
  if (why === 'refused') return 'event: end\ndata: {"reason":"unauthorized","message":"Access to this stream was revoked."}\nretry: 60000\n\n';
  if (why === 'expired') return `: this connection reached its maximum age; reconnect with Last-Event-ID\nretry: ${250 + Math.floor(Math.random() * 750)}\n\n`;
  return live.draining() ? restartHint : '';
}
