import { defineConfig } from 'prisma/config';

// Only `prisma generate` uses this; migrations run through src/lib/server/db/migrate.ts.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
