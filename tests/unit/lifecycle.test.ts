// The pieces shutdown is built from: the registry of live responses, bounded waits, and stopping a
// child that does not stop by itself.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { allGone, stopChild } from '../../src/cli/children.ts';
import { closingBudget, endLiveResponses, holdOpen, isDraining, settlesWithin, sseRestartHint } from '../../src/lib/server/lifecycle.ts';

describe('stopChild', () => {
  it('kills a child that ignores the signal once the bound has passed', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000); process.stdout.write('ready')"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout!.once('data', r));
    expect(await stopChild(child, 'SIGTERM', 300)).toBe('killed');
    expect(child.signalCode).toBe('SIGKILL');
    expect(await allGone([child.pid!], 1_000)).toBe(true);
  });

  it('waits for a child that stops by itself', async () => {
    const child = spawn(process.execPath, ['-e', "process.on('SIGTERM', () => setTimeout(() => process.exit(0), 100)); setInterval(() => {}, 1000); process.stdout.write('ready')"], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((r) => child.stdout!.once('data', r));
    expect(await stopChild(child, 'SIGTERM', 5_000)).toBe('exited');
    expect(child.exitCode).toBe(0);
  });
});

describe('bounded waits', () => {
  it('says whether a promise settled in time', async () => {
    expect(await settlesWithin(new Promise((r) => setTimeout(r, 10)), 1_000)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error('settled all the same')), 1_000)).toBe(true);
    expect(await settlesWithin(new Promise(() => {}), 20)).toBe(false);
  });

  it('keeps a quarter of the bound, at most 2 s, for closing pools', () => {
    expect(closingBudget(10_000)).toBe(2_000);
    expect(closingBudget(2_000)).toBe(500);
  });
});

describe('the registry of live responses', () => {
  it('aborts what is open when shutdown begins, and whatever opens afterwards at once', () => {
    const client = new AbortController();
    const gone = holdOpen(new Request('http://x/', { signal: client.signal }));
    const open = holdOpen(new Request('http://x/'));
    const done = holdOpen(new Request('http://x/'));
    done.release();
    client.abort();
    expect(gone.signal.aborted).toBe(true);
    expect(gone.draining()).toBe(false);
    gone.release();
    expect(open.signal.aborted).toBe(false);

    expect(endLiveResponses()).toBe(1); // `open`; the released ones are no longer counted
    expect(isDraining()).toBe(true);
    expect(open.signal.aborted).toBe(true);
    expect(open.draining()).toBe(true);
    const late = holdOpen(new Request('http://x/'));
    expect(late.signal.aborted).toBe(true);
    expect(endLiveResponses()).toBe(0);
  });

  it('ends an SSE stream with a comment and a short, jittered reconnection delay', () => {
    const delays = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const hint = sseRestartHint();
      expect(hint).toMatch(/^: server restarting[^\n]*\nretry: \d+\n\n$/);
      delays.add(Number(/retry: (\d+)/.exec(hint)![1]));
    }
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(250);
    expect(Math.max(...delays)).toBeLessThan(1_000);
    expect(delays.size).toBeGreaterThan(1);
  });
});
