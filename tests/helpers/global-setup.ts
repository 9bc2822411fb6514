// Once per test run: real services, a migrated template database, a fresh build, and one shared
// web server on its own database and queue prefix. Everything made here is removed at the end.
import type { TestProject } from 'vitest/node';
import { randomBytes } from 'node:crypto';
import { applyMigrations } from '../../src/lib/server/db/migrate.ts';
import { createDatabase, deleteRedisPrefix, dropDatabase, testServices } from './services.ts';
import { startWeb } from './server.ts';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './server.ts';
import { existsSync } from 'node:fs';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    redisUrl: string;
    templateDb: string;
    runId: string;
    webUrl: string;
    webDatabaseUrl: string;
    webPrefix: string;
    buildDir: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const services = await testServices();
  const templateDb = `pipet_${runId}_template`;
  const webDb = `pipet_${runId}_web`;
  const webPrefix = `pipet-${runId}-web`;
  const buildRoot = join(ROOT, '.test-builds', runId);
  let web: Awaited<ReturnType<typeof startWeb>> | undefined;
  const teardown = async () => {
    await web?.stop();
    await dropDatabase(services.adminUrl, webDb);
    await dropDatabase(services.adminUrl, templateDb);
    await deleteRedisPrefix(services.redisUrl, webPrefix);
    await services.stop();
    rmSync(buildRoot, { recursive: true, force: true });
    // The browser tests' screenshots (tests/e2e/browser-kit.ts): say where they are.
    const shots = join(ROOT, 'test-results', 'screenshots');
    if (existsSync(shots)) console.log(`\nScreenshots of every main page (light, dark, phone): ${shots}\n`);
  };
  try {
    const templateUrl = await createDatabase(services.adminUrl, templateDb);
    await applyMigrations(templateUrl);
    // A fresh build of this run's own, so concurrent runs and stale builds never interfere. It is a
    // production build, as `npm run build` makes: under vitest's NODE_ENV=test, Vite would compile
    // `$app/environment`'s `dev` as true.
    const buildDir = join(buildRoot, 'build');
    const built = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'error'], {
      cwd: ROOT,
      env: { ...process.env, NODE_ENV: 'production', PIPET_BUILD_DIR: buildDir, PIPET_KIT_DIR: join(buildRoot, 'kit') },
      encoding: 'utf8',
    });
    if (built.status !== 0) throw new Error(`vite build failed:\n${built.stdout}\n${built.stderr}`);
    process.env.PIPET_TEST_BUILD_DIR = buildDir;
    const webDatabaseUrl = await createDatabase(services.adminUrl, webDb, templateDb);
    web = await startWeb({ DATABASE_URL: webDatabaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: webPrefix, SSE_HEARTBEAT_MS: '300' });
    project.provide('adminUrl', services.adminUrl);
    project.provide('redisUrl', services.redisUrl);
    project.provide('templateDb', templateDb);
    project.provide('runId', runId);
    project.provide('webUrl', web.url);
    project.provide('webDatabaseUrl', webDatabaseUrl);
    project.provide('webPrefix', webPrefix);
    project.provide('buildDir', buildDir);
  } catch (error) {
    await teardown();
    throw error;
  }
  return teardown;
}
