// The job catalog: every queue has a processor, and a job whose payload breaks its queue's schema
// fails for good at once instead of being retried.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useOwnDatabase } from '../helpers/context.ts';
import { startEffectWorkers } from '../helpers/effects.ts';

await useOwnDatabase('jobs');
const { queue } = await import('../../src/lib/server/queue/enqueue.ts');
const { QUEUES } = await import('../../src/lib/server/queue/catalog.ts');
const { handlers } = await import('../../src/worker/processors/index.ts');

let workers: Awaited<ReturnType<typeof startEffectWorkers>>;
beforeAll(async () => {
  workers = await startEffectWorkers();
});
afterAll(() => workers?.close());

describe('the job catalog', () => {
  it('has a processor for every queue', () => {
    expect(Object.keys(handlers).sort()).toEqual(Object.keys(QUEUES).sort());
  });

  it('fails a malformed payload once, as unrecoverable, without retries', async () => {
    const job = await queue('deliver').add('deliver', { effectId: '' } as never, { attempts: 5 });
    const deadline = Date.now() + 10_000;
    let state = await job.getState();
    while (state !== 'failed' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      state = await job.getState();
    }
    const failed = await queue('deliver').getJob(job.id!);
    expect(state).toBe('failed');
    expect(failed?.attemptsMade).toBe(1);
    expect(failed?.failedReason).toMatch(/Malformed deliver job: effectId/);
  });
});
