// `pipet start` (`npm start`): web and worker as child processes it owns, on embedded PostgreSQL and
// Redis unless configured. It forwards SIGINT/SIGTERM (a hang-up stops it too), waits for its
// children, kills stragglers after the bound, then stops the embedded services. Its children stop
// by themselves if it dies, even SIGKILLed (they watch the IPC channel), and so does the keeper.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { env } from '../lib/server/env.ts';
import { SUPERVISOR_GRACE_MS } from '../lib/server/lifecycle.ts';
import { stopChild } from './children.ts';
import { ROOT, ensureBuilt, webEnv, withServices } from './services.ts';

async function ensurePlayground(): Promise<void> {
  const { db, closeDb } = await import('../lib/server/db/client.ts');
  const { newSigningSecret } = await import('../lib/server/teams/create-team.ts');
  const { streamIdFor } = await import('../lib/server/streams/stream-id.ts');
  if ((await db().team.count()) > 0) return closeDb();
  await db().team.create({
    data: {
      slug: 'local',
      name: 'Local playground',
      signingSecret: newSigningSecret(),
      streams: { create: { id: streamIdFor('local', 'hello'), slug: 'hello', name: 'hello', publicRead: true, publicWrite: true } },
    },
  });
  await closeDb(); // this process only supervises from here on
}

export async function runStart(): Promise<void> {
  ensureBuilt();
  await withServices({ keep: true }, async ({ embedded, keeper, stop }) => {
    if (embedded) await ensurePlayground();
    // `npm start` is for trying Pipet out on this machine: development mode, and webhooks may call
    // local servers. Production (`start:web`, `start:worker`) keeps both off unless set.
    const childEnv: NodeJS.ProcessEnv = { NODE_ENV: 'development', ...(embedded ? { ALLOW_PRIVATE_WEBHOOKS: 'true' } : {}), ...process.env, ...webEnv() };
    if (childEnv.ALLOW_PRIVATE_WEBHOOKS === 'true') console.log('Webhooks may call private addresses (ALLOW_PRIVATE_WEBHOOKS=true): fine on your machine, never in production.');
    const self = join(ROOT, 'src/cli/main.ts');
    const roles = ['web', 'worker'] as const;
    // The IPC channel is how a child notices that this process is gone.
    const children: ChildProcess[] = roles.map((role) =>
      spawn(process.execPath, ['--disable-warning=ExperimentalWarning', self, role], { env: childEnv, stdio: ['inherit', 'inherit', 'inherit', 'ipc'] }),
    );
    keeper?.watch(children.map((c) => c.pid!).filter(Boolean));
    const origin = childEnv.ORIGIN;
    console.log(`\nPipet is running at ${origin}\n`);
    if (embedded) {
      console.log('Try it (the local/hello stream is public in the embedded playground):');
      console.log(`  curl -X POST ${origin}/s/local/hello -H 'Content-Type: application/json' -d '{"hello":"world"}'`);
      console.log(`  curl ${origin}/s/local/hello/0\n`);
    }
    console.log('Press Ctrl-C to stop.');

    // Each child bounds its own shutdown by SHUTDOWN_TIMEOUT_MS (the web primary waits a grace
    // longer for its processes); whatever is still running a grace after that is killed.
    const childBound = env().SHUTDOWN_TIMEOUT_MS + 2 * SUPERVISOR_GRACE_MS;
    let stopping: Promise<void> | undefined;
    const shutdown = (signal: NodeJS.Signals) =>
      (stopping ??= (async () => {
        console.log('\nStopping Pipet...');
        await Promise.all(children.map((c) => stopChild(c, signal, childBound)));
        await stop();
      })());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => void shutdown(signal === 'SIGHUP' ? 'SIGTERM' : signal).then(() => process.exit(0)));
    }
    children.forEach((child, i) =>
      child.once('exit', (code, signal) => {
        if (stopping) return;
        console.log(`The ${roles[i]} process exited (${signal ?? code}); stopping Pipet.`);
        void shutdown('SIGTERM').then(() => process.exit(1));
      }),
    );
  });
}
