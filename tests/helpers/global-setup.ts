// Once per test run: real services, a migrated template database, a fresh build, and one shared
// web server on its own database and queue prefix. Everything made here is removed at the end.
import type { TestProject } from 'vitest/node';
import { randomBytes } from 'node:crypto';
import { applyMigrations } from '../../src/lib/server/db/migrate.ts';
import { createDatabase, deleteRedisPrefix, dropDatabase, testServices } from './services.ts';
import { startWeb } from './server.ts';
import { ensureBuilt } from '../../src/cli/services.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    redisUrl: string;
    templateDb: string;
    runId: string;
    webUrl: string;
    webDatabaseUrl: string;
    webPrefix: string;
  }
}

export default async function setup(project: TestProject) {
  const runId = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const services = await testServices();
  const templateDb = `pipet_${runId}_template`;
  const templateUrl = await createDatabase(services.adminUrl, templateDb);
  await applyMigrations(templateUrl);
  ensureBuilt(() => {});

  const webDb = `pipet_${runId}_web`;
  const webDatabaseUrl = await createDatabase(services.adminUrl, webDb, templateDb);
  const webPrefix = `pipet-${runId}-web`;
  const web = await startWeb({ DATABASE_URL: webDatabaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: webPrefix, SSE_HEARTBEAT_MS: '300' });

  project.provide('adminUrl', services.adminUrl);
  project.provide('redisUrl', services.redisUrl);
  project.provide('templateDb', templateDb);
  project.provide('runId', runId);
  project.provide('webUrl', web.url);
  project.provide('webDatabaseUrl', webDatabaseUrl);
  project.provide('webPrefix', webPrefix);

  return async () => {
    await web.stop();
    await dropDatabase(services.adminUrl, webDb);
    await dropDatabase(services.adminUrl, templateDb);
    await deleteRedisPrefix(services.redisUrl, webPrefix);
    await services.stop();
  };
}
