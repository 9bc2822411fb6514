// Process lifecycle: everything a web or worker process opened, closed in dependency order.
import { closeDb } from './db/client.ts';
import { closeNotify } from './notify.ts';
import { closeQueues } from './queue/enqueue.ts';
import { closeRedis } from './redis.ts';
import { closeSandbox } from './reducers/sandbox/index.ts';

/** Closes queues, live-tail subscriptions and sandbox threads, then the Redis and PostgreSQL pools. */
export async function closeAll(): Promise<void> {
  await Promise.allSettled([closeQueues(), closeNotify(), closeSandbox()]);
  await Promise.allSettled([closeRedis(), closeDb()]);
}
