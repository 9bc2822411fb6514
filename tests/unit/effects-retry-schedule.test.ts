// The retry schedule and the decision after each attempt.
import { describe, expect, it } from 'vitest';
import { parseRetrySchedule, planNextStep } from '../../src/lib/server/effects/retry-schedule.ts';
import { signWebhook } from '../../src/lib/server/effects/sign-webhook.ts';
import { Webhook } from 'standardwebhooks';

describe('parseRetrySchedule', () => {
  it.each([
    ['0,5s,5m,30m,2h,5h,10h,10h', [0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]],
    ['0', [0]],
    ['0, 200, 1s', [0, 200, 1_000]],
    ['250ms,1d', [250, 86_400_000]],
  ])('%s', (text, expected) => {
    expect(parseRetrySchedule(text)).toEqual(expected);
  });

  it.each(['', '5x', '1,,2', '-1'])('refuses %j', (text) => {
    expect(() => parseRetrySchedule(text)).toThrow();
  });
});

describe('planNextStep', () => {
  const schedule = [0, 5_000, 300_000];
  const now = new Date('2030-01-01T00:00:00Z');
  it.each([
    [1, 'delivered', { status: 'delivered' }],
    [1, 'permanent', { status: 'failed' }],
    [1, 'retryable', { status: 'pending', nextAttemptAt: new Date(now.getTime() + 5_000) }],
    [2, 'retryable', { status: 'pending', nextAttemptAt: new Date(now.getTime() + 300_000) }],
    [3, 'retryable', { status: 'failed' }],
    [4, 'retryable', { status: 'failed' }], // a by-hand retry after the schedule ran out
    [4, 'delivered', { status: 'delivered' }],
  ] as const)('attempt %i %s → %o', (attempts, result, expected) => {
    expect(planNextStep({ attempts, result, schedule, now })).toEqual(expected);
  });
});

describe('signWebhook', () => {
  it('produces headers the standardwebhooks package verifies', () => {
    const secret = `whsec_${Buffer.from('0123456789abcdef01234567').toString('base64')}`;
    const body = JSON.stringify({ hello: 'world', n: 1 });
    const headers = signWebhook({ secret, id: 'eff_abc', timestamp: Math.floor(Date.now() / 1000), body });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(new Webhook(secret).verify(body, headers)).toEqual({ hello: 'world', n: 1 });
    expect(() => new Webhook(secret).verify(body.replace('1', '2'), headers)).toThrow();
  });
});
