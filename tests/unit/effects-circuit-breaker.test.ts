// The per-destination circuit breaker and the attempt deadline that includes name resolution.
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, destinationFailed } from '../../src/lib/server/effects/circuit-breaker.ts';
import { deliverWebhook } from '../../src/lib/server/effects/deliver-webhook.ts';

describe('CircuitBreaker', () => {
  it('remembers a bounded number of destinations, dropping the least recently failed', () => {
    const b = new CircuitBreaker({ failures: 1, openMs: 1_000, maxOpenMs: 1_000, now: () => 0, maxCircuits: 3 });
    for (const host of ['a', 'b', 'c']) b.record(host, false);
    b.record('a', false); // failed again: now the most recent
    b.record('d', false); // one too many: 'b' goes
    expect(b.size).toBe(3);
    expect(b.failuresOf('b')).toBe(0);
    expect(b.failuresOf('a')).toBe(2);
    expect(b.pausedUntil('d')).toBe(1_000);
  });

  it('opens after consecutive failures, lets one probe through when the pause ends, and doubles the pause while it fails', () => {
    let now = 0;
    const b = new CircuitBreaker({ failures: 3, openMs: 1_000, maxOpenMs: 3_000, now: () => now });
    const host = 'dead.example';
    for (let i = 0; i < 2; i++) {
      expect(b.pausedUntil(host)).toBeNull();
      b.record(host, false);
    }
    expect(b.pausedUntil(host)).toBeNull();
    b.record(host, false); // the third failure opens it
    expect(b.pausedUntil(host)).toBe(1_000);
    expect(b.pausedUntil('other.example')).toBeNull(); // other destinations are not affected
    now = 1_000;
    expect(b.pausedUntil(host)).toBeNull(); // the probe
    expect(b.pausedUntil(host)).toBe(2_000); // nobody else while it is out
    b.record(host, false); // the probe failed: open twice as long
    expect(b.pausedUntil(host)).toBe(3_000);
    now = 3_000;
    expect(b.pausedUntil(host)).toBeNull();
    b.record(host, false);
    expect(b.pausedUntil(host)).toBe(6_000); // capped at maxOpenMs
    now = 6_000;
    expect(b.pausedUntil(host)).toBeNull();
    b.record(host, true); // the probe succeeded: closed, counts forgotten
    expect(b.pausedUntil(host)).toBeNull();
    expect(b.failuresOf(host)).toBe(0);
  });

  it.each([
    [{ result: 'delivered', statusCode: 200 }, false],
    [{ result: 'retryable' }, true], // timeout, refused connection
    [{ result: 'retryable', statusCode: 503 }, true],
    [{ result: 'retryable', statusCode: 429 }, true],
    [{ result: 'retryable', statusCode: 404 }, false], // the server answered: the reducer's URL is wrong
    [{ result: 'permanent', statusCode: 410 }, false],
    [{ result: 'permanent' }, false], // refused before any connection (private address)
  ])('counts %o against the destination: %s', (attempt, failed) => {
    expect(destinationFailed(attempt)).toBe(failed);
  });
});

describe('the attempt deadline', () => {
  it('includes name resolution', async () => {
    const attempt = await deliverWebhook({
      id: 'eff_x',
      secret: 'whsec_c2VjcmV0',
      payload: { url: 'https://slow-dns.example/hook', method: 'POST', headers: {}, body: {} },
      timeoutMs: 300,
      resolve: () => new Promise(() => {}), // a resolver that never answers
    });
    expect(attempt).toMatchObject({ result: 'retryable', error: expect.stringMatching(/Timed out after 300 ms \(resolving slow-dns\.example\)/) });
  });
});
