// `pipet web`: the adapter-node server, in this process (WEB_PROCESSES=1) or in WEB_PROCESSES
// processes behind one port (web-cluster.ts). The app's hooks handle each server's shutdown.
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { env } from '../lib/server/env.ts';
import { buildDir, ensureBuilt, webEnv, withServices } from './services.ts';
import { runWebCluster } from './web-cluster.ts';

export async function runWeb(): Promise<void> {
  ensureBuilt();
  await withServices({ keep: true }, async ({ stop }) => {
    Object.assign(process.env, webEnv());
    const processes = env().WEB_PROCESSES;
    if (processes > 1) return runWebCluster({ processes, stop });
    // Embedded services, if this process started them, stop when it exits (the keeper sees it go).
    await import(pathToFileURL(join(buildDir(), 'index.js')).href);
    console.log(`Pipet web listening on ${process.env.ORIGIN}`);
  });
}
