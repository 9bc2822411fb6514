// The migrated schema obeys Citus's rules for the layout in docs/scaling-citus.md (TABLES in
// tests/helpers/single-shard.ts): read from the catalogs of the migrated template database, since
// Citus itself is not installable here. A new table without a decision in TABLES fails.
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import pg from 'pg';
import { TABLES, distributionViolations } from '../helpers/single-shard.ts';
import { splitSqlScript } from '../../src/lib/server/db/split-sql.ts';
import { databaseUrl } from '../helpers/services.ts';

type Key = { table: string; name: string; columns: string[] };
type ForeignKey = Key & { target: string; targetColumns: string[]; onUpdate: string; onDelete: string };

let client: pg.Client;
let tables: string[];
let keys: Key[];
let foreignKeys: ForeignKey[];
let columns: Map<string, { type: string; notNull: boolean }>;

beforeAll(async () => {
  client = new pg.Client({ connectionString: databaseUrl(inject('adminUrl'), inject('templateDb')) });
  await client.connect();
  tables = (await client.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)).rows.map((r) => r.name);
  // Primary keys, unique constraints and unique indexes alike (Prisma's @@unique is an index).
  keys = (
    await client.query<Key>(`
      SELECT t.relname AS table, i.relname AS name,
             array(SELECT a.attname::text FROM unnest(x.indkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.n) AS columns
      FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND x.indisunique`)
  ).rows;
  foreignKeys = (
    await client.query<ForeignKey>(`
      SELECT t.relname AS table, c.conname AS name, f.relname AS target, c.confupdtype::text AS "onUpdate", c.confdeltype::text AS "onDelete",
             array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns,
             array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum ORDER BY k.n) AS "targetColumns"
      FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class f ON f.oid = c.confrelid JOIN pg_namespace n ON n.oid = t.relnamespace
      WHERE n.nspname = 'public' AND c.contype = 'f'`)
  ).rows;
  columns = new Map(
    (await client.query<{ table: string; column: string; type: string; notNull: boolean }>(`SELECT table_name AS table, column_name AS column, data_type AS type, is_nullable = 'NO' AS "notNull" FROM information_schema.columns WHERE table_schema = 'public'`)).rows.map((r) => [
      `${r.table}.${r.column}`,
      { type: r.type, notNull: r.notNull },
    ]),
  );
});
afterAll(() => client?.end());

const distributed = (table: string) => {
  const t = TABLES[table];
  return t?.kind === 'distributed' ? t : null;
};

describe('the schema, laid out for Citus', () => {
  it('has a decision for every table, and no decision for a table that is gone', () => {
    expect(tables.filter((t) => !(t in TABLES)), 'tables with no entry in TABLES (reference, distributed or local?)').toEqual([]);
    expect(Object.keys(TABLES).filter((t) => !tables.includes(t)), 'TABLES entries with no table').toEqual([]);
  });

  it('gives every distributed table a NOT NULL distribution column of its co-location group’s type', () => {
    for (const table of tables) {
      const d = distributed(table);
      if (!d) continue;
      const column = columns.get(`${table}.${d.by}`);
      expect(column, `${table}.${d.by}`).toMatchObject({ notNull: true });
      const group = distributed(d.colocateWith)!;
      expect(column!.type, `${table}.${d.by} has the type of ${d.colocateWith}.${group.by}`).toBe(columns.get(`${d.colocateWith}.${group.by}`)!.type);
    }
  });

  it('puts the distribution column in every primary key and unique key of a distributed table', () => {
    const missing = keys.filter((k) => distributed(k.table) && !k.columns.includes(distributed(k.table)!.by));
    expect(missing.map((k) => `${k.name} (${k.table}: ${k.columns.join(', ')})`)).toEqual([]);
    // Each distributed table has a primary key at all.
    for (const table of tables.filter((t) => distributed(t))) expect(keys.some((k) => k.table === table && k.name === `${table}_pkey`), `${table}_pkey`).toBe(true);
  });

  it('lets foreign keys of distributed tables point only to reference tables or co-located tables, on the distribution column', () => {
    const wrong: string[] = [];
    for (const fk of foreignKeys) {
      const from = TABLES[fk.table];
      const to = TABLES[fk.target];
      const what = `${fk.name}: ${fk.table}(${fk.columns.join(', ')}) → ${fk.target}(${fk.targetColumns.join(', ')})`;
      if (from.kind === 'reference' || from.kind === 'local') {
        if (to.kind !== from.kind && to.kind !== 'reference') wrong.push(`${what}: a ${from.kind} table may not reference a ${to.kind} table`);
        continue;
      }
      if (to.kind === 'reference') continue;
      if (to.kind !== 'distributed' || to.colocateWith !== from.colocateWith) {
        wrong.push(`${what}: ${fk.target} is not co-located with ${fk.table}`);
        continue;
      }
      const at = fk.columns.indexOf(from.by);
      if (at < 0 || fk.targetColumns[at] !== to.by) wrong.push(`${what}: does not join ${fk.table}.${from.by} to ${fk.target}.${to.by}`);
      // The distribution column is never updated, and Citus refuses SET NULL / SET DEFAULT on it.
      if (!['r', 'a'].includes(fk.onUpdate)) wrong.push(`${what}: ON UPDATE must be RESTRICT or NO ACTION`);
      if (!['c', 'r', 'a'].includes(fk.onDelete)) wrong.push(`${what}: ON DELETE SET NULL/DEFAULT on the distribution column`);
    }
    expect(wrong).toEqual([]);
  });

  it('has the functions the hot path calls: the stream id (immutable), the append and the fold commit', async () => {
    const { rows } = await client.query<{ name: string; volatility: string }>(`SELECT proname AS name, provolatile::text AS volatility FROM pg_proc WHERE proname LIKE 'pipet\\_%' ORDER BY 1`);
    expect(rows).toEqual([
      { name: 'pipet_append_events', volatility: 'v' },
      { name: 'pipet_commit_fold', volatility: 'v' },
      { name: 'pipet_commit_keyed_fold', volatility: 'v' },
      { name: 'pipet_stream_id', volatility: 'i' },
    ]);
  });

  it('keeps every statement inside the delegated functions on the shard of their first argument, the stream', async () => {
    const { rows } = await client.query<{ name: string; body: string; first: string }>(
      `SELECT proname AS name, prosrc AS body, proargnames[1] AS first FROM pg_proc WHERE proname IN ('pipet_append_events', 'pipet_commit_fold', 'pipet_commit_keyed_fold')`,
    );
    expect(rows.map((r) => r.first)).toEqual(['stream_id', 'stream_id', 'stream_id']);
    for (const { name, body } of rows) {
      // The body's statements, with the distribution argument read as the bound value it is.
      const statements = splitSqlScript(body.replace(/\bstream_id\b/g, '$1')).filter((s) => /"(Stream|Event|Effect|ReducerState|ReducerSnapshot|KeyedState|KeyedChange)"/.test(s));
      expect(statements.length, name).toBeGreaterThan(0);
      for (const sql of statements) expect(distributionViolations(sql), `${name}: ${sql}`).toEqual([]);
    }
  });
});
