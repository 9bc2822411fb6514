import { sequence } from '@sveltejs/kit/hooks';
import type { Handle } from '@sveltejs/kit';
import { handleCsrf } from '$lib/server/http/csrf.ts';

const handleSession: Handle = async ({ event, resolve }) => {
  event.locals.user = null;
  event.locals.session = null;
  return resolve(event);
};

export const handle = sequence(handleCsrf, handleSession);

// adapter-node emits this after the server stops accepting requests (SIGTERM / SIGINT): close the
// pools and connections that would otherwise keep the process alive.
process.once('sveltekit:shutdown' as 'exit', async () => {
  const { closeDb } = await import('$lib/server/db/client.ts');
  const { closeRedis } = await import('$lib/server/redis.ts');
  const { closeQueues } = await import('$lib/server/queue/enqueue.ts');
  const { closeTails } = await import('$lib/server/streams/tail-events.ts');
  await Promise.allSettled([closeQueues(), closeTails()]);
  await Promise.allSettled([closeRedis(), closeDb()]);
});
