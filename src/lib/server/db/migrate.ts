// Migrations through Prisma's WebAssembly schema engine: Prisma 7's CLI needs a native engine
// that cannot always be downloaded. Same layout as `prisma migrate`: prisma/migrations/<name>/migration.sql.
import { readFileSync, readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SchemaEngine, type MigrationList } from '@prisma/schema-engine-wasm';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import { PrismaPg } from '@prisma/adapter-pg';
import { splitSqlScript } from './split-sql.ts';

const ROOT = resolve(import.meta.dirname, '../../../..');
export const SCHEMA_PATH = join(ROOT, 'prisma/schema.prisma');
export const MIGRATIONS_DIR = join(ROOT, 'prisma/migrations');
const NO_FILTER = { externalTables: [], externalEnums: [] };

// adapter-pg cannot map PostgreSQL's internal one-byte "char" type (OID 18), which the engine's
// introspection queries (pg_class.relkind and friends) return. It is text; say so.
let charPatched = false;
function patchCharColumns(adapter: object): void {
  if (charPatched) return;
  for (let proto = Object.getPrototypeOf(adapter); proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, 'performIO')) {
      const original = proto.performIO;
      proto.performIO = async function (this: unknown, query: unknown) {
        const result = await original.call(this, query);
        for (const field of result.fields ?? []) if (field.dataTypeID === 18) field.dataTypeID = 25;
        return result;
      };
      charPatched = true;
      return;
    }
  }
}

// adapter-pg splits a migration script at every `;`, even inside a function's $$ body or a comment:
// split where statements end instead (the native engine sends the script whole).
let scriptPatched = false;
function patchExecuteScript(adapter: object): void {
  if (scriptPatched) return;
  for (let proto = Object.getPrototypeOf(adapter); proto; proto = Object.getPrototypeOf(proto)) {
    if (Object.hasOwn(proto, 'executeScript')) {
      proto.executeScript = async function (this: { client: { query(sql: string): Promise<unknown> }; onError(error: unknown): never }, script: string) {
        for (const statement of splitSqlScript(script)) {
          try {
            await this.client.query(statement);
          } catch (error) {
            this.onError(error);
          }
        }
      };
      scriptPatched = true;
      return;
    }
  }
}

function schemaFiles() {
  return [{ path: SCHEMA_PATH, content: readFileSync(SCHEMA_PATH, 'utf8') }];
}

export function migrationList(dir = MIGRATIONS_DIR): MigrationList {
  const names = existsSync(dir) ? readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];
  const lockPath = join(dir, 'migration_lock.toml');
  return {
    baseDir: dir,
    lockfile: { path: 'migration_lock.toml', content: existsSync(lockPath) ? readFileSync(lockPath, 'utf8') : null },
    shadowDbInitScript: '',
    migrationDirectories: names.map((name) => ({
      path: name,
      migrationFile: { path: 'migration.sql', content: { tag: 'ok' as const, value: readFileSync(join(dir, name, 'migration.sql'), 'utf8') } },
    })),
  };
}

async function withEngine<T>(connectionString: string, run: (engine: SchemaEngine) => Promise<T>): Promise<T> {
  // allowExitOnIdle: the engine keeps a pooled client that dispose() does not end.
  const factory = new PrismaPg({ connectionString, idleTimeoutMillis: 500, allowExitOnIdle: true });
  const originalConnect = factory.connect.bind(factory);
  const opened: { dispose(): Promise<void> }[] = [];
  factory.connect = async () => {
    const adapter = await originalConnect();
    patchCharColumns(adapter);
    patchExecuteScript(adapter);
    opened.push(adapter);
    return adapter;
  };
  const files = schemaFiles();
  const engine = await SchemaEngine.new(
    { datamodels: files.map((f) => [f.path, f.content] as [string, string]) },
    () => {},
    bindMigrationAwareSqlAdapterFactory(factory),
  );
  try {
    return await run(engine);
  } finally {
    engine.free();
    // The engine does not close its pool; left open it keeps the process alive.
    await Promise.all(opened.map((a) => a.dispose()));
  }
}

/** Applies every migration not yet applied; returns the names applied now. */
export async function applyMigrations(connectionString: string): Promise<string[]> {
  return withEngine(connectionString, async (engine) => {
    const out = await engine.applyMigrations({ migrationsList: migrationList(), filters: NO_FILTER });
    return out.appliedMigrationNames;
  });
}

/** SQL that would bring the database to what schema.prisma describes; '' when they agree. */
export async function diffDatabaseAgainstSchema(connectionString: string): Promise<string> {
  return withEngine(connectionString, async (engine) => {
    const files = schemaFiles();
    const out = await engine.diff({
      from: { tag: 'schemaDatasource', files, configDir: ROOT },
      to: { tag: 'schemaDatamodel', files },
      script: true,
      exitCode: true,
      filters: NO_FILTER,
    });
    return out.exitCode === 2 ? (out.stdout ?? '') : '';
  });
}

/**
 * Writes a new migration with the SQL taking an up-to-date database (all migrations applied) to
 * schema.prisma. Development only: `npm run pipet -- migrate --create <name>`.
 */
export async function createMigration(connectionString: string, name: string): Promise<string | null> {
  await applyMigrations(connectionString);
  const sql = await diffDatabaseAgainstSchema(connectionString);
  if (!sql.trim()) return null;
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const dirName = `${stamp}_${name.replace(/[^a-z0-9_]/gi, '_')}`;
  mkdirSync(join(MIGRATIONS_DIR, dirName), { recursive: true });
  writeFileSync(join(MIGRATIONS_DIR, dirName, 'migration.sql'), sql);
  const lock = join(MIGRATIONS_DIR, 'migration_lock.toml');
  if (!existsSync(lock)) writeFileSync(lock, '# Please do not edit this file manually\nprovider = "postgresql"\n');
  return dirName;
}
