import { expect, it, inject } from 'vitest';
import { diffDatabaseAgainstSchema } from '../../src/lib/server/db/migrate.ts';
import { databaseUrl } from '../helpers/services.ts';

it('the migrations yield exactly what schema.prisma describes', async () => {
  // The template database was built by applying prisma/migrations in global setup.
  const sql = await diffDatabaseAgainstSchema(databaseUrl(inject('adminUrl'), inject('templateDb')));
  expect(sql).toBe('');
});
