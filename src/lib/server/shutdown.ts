// Process lifecycle: everything a web or worker process opened, closed in dependency order.
import { closeDb } from './db/client.ts';
import { closeNotify } from './notify.ts';
import { closeQueues } from './queue/enqueue.ts';
import { closeRedis } from './redis.ts';
import { closeSandbox } from './reducers/sandbox/index.ts';

const others = new Set<() => Promise<unknown>>();

/** Something else this process opened (a BullMQ worker's own Redis connection) for closeAll to close with the rest. */
export function closeOnShutdown(close: () => Promise<unknown>): void {
  others.add(close);
}

/** Closes queues, live-tail subscriptions, sandbox threads and what was registered, then the Redis and PostgreSQL pools. */
export async function closeAll(): Promise<void> {
  const registered = [...others];
  others.clear();
  await Promise.allSettled([closeQueues(), closeNotify(), closeSandbox(), ...registered.map((close) => close())]);
  await Promise.allSettled([closeRedis(), closeDb()]);
}
