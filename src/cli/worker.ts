// `pipet worker`: the BullMQ workers and the sweep, until SIGTERM/SIGINT (worker/main.ts drains them).
import { withServices } from './services.ts';

export async function runWorker(): Promise<void> {
  await withServices({ keep: true }, async ({ stop }) => {
    const { runWorkerProcess } = await import('../worker/main.ts');
    await runWorkerProcess({ after: stop });
  });
}
