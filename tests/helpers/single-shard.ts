// What Citus would make of a statement, read pragmatically from its text: the distributed tables it
// touches, and whether each is pinned to one distribution value. Prisma's SQL (`"public"."T"."c" =
// $1`) and the project's raw SQL (`s.id = $1::uuid`, joins on co-located columns) are both read.
// Not a SQL parser: the statements it is used on are known, and a miss shows the statement whole.

/** How each table of the schema is laid out on Citus (docs/scaling-citus.md); every table must be listed. */
export const TABLES: Record<string, { kind: 'reference' } | { kind: 'distributed'; by: string; colocateWith: string } | { kind: 'local'; why: string }> = {
  User: { kind: 'reference' },
  Session: { kind: 'reference' },
  Team: { kind: 'reference' },
  SenderDomain: { kind: 'reference' },
  Membership: { kind: 'reference' },
  Invite: { kind: 'reference' },
  ApiKey: { kind: 'reference' },
  EmailVerification: { kind: 'reference' },
  PasswordReset: { kind: 'reference' },
  RecoveryCode: { kind: 'reference' },
  Stream: { kind: 'distributed', by: 'id', colocateWith: 'Stream' },
  Event: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  IdempotencyRecord: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  Reducer: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  ReducerVersion: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  ReplayPreview: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  ReducerSnapshot: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  KeyedState: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  KeyedChange: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  ReducerState: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  Effect: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  EffectAttempt: { kind: 'distributed', by: 'streamId', colocateWith: 'Stream' },
  EmailMessage: { kind: 'distributed', by: 'teamId', colocateWith: 'EmailMessage' },
  _prisma_migrations: { kind: 'local', why: "Prisma's migration log, read and written by migrations on the coordinator only" },
};

export const DISTRIBUTED = Object.entries(TABLES).flatMap(([table, t]) => (t.kind === 'distributed' ? [{ table, by: t.by }] : []));

const KEYWORDS = new Set(['where', 'join', 'left', 'right', 'inner', 'on', 'set', 'using', 'values', 'select', 'group', 'order', 'limit', 'returning', 'window', 'for', 'as', 'and', 'or', 'cross', 'full', 'natural', 'lateral', 'union', 'having', 'offset', 'default', 'with']);

type Occurrence = { table: string; by: string; alias: string | null; insert: boolean };

/** Every reference to a distributed table, with its alias if it has one. */
function occurrences(sql: string): Occurrence[] {
  const found: Occurrence[] = [];
  for (const { table, by } of DISTRIBUTED) {
    // "public"."T" or "T", not followed by a column (`"T"."c"`), with an optional alias.
    const re = new RegExp(`(INSERT INTO\\s+)?(?:"public"\\.)?"${table}"(?!\\.)(?:\\s+(?:AS\\s+)?("?)([A-Za-z_][A-Za-z0-9_]*)\\2)?`, 'g');
    for (const m of sql.matchAll(re)) {
      const alias = m[3] && !KEYWORDS.has(m[3].toLowerCase()) ? m[3] : null;
      found.push({ table, by, alias, insert: !!m[1] });
    }
  }
  return found;
}

/** The ways a statement can name column `column` of occurrence `o`. */
function columnRefs(o: Occurrence, column: string): string[] {
  const c = `"${column}"`;
  const refs = [`"public"."${o.table}".${c}`, `"${o.table}".${c}`];
  if (o.alias) refs.push(`${o.alias}.${c}`, `"${o.alias}".${c}`, `${o.alias}.${column}`);
  else refs.push(c, column);
  return refs;
}

/** A value: a parameter (cast or not), or a quoted literal. */
const VALUE = String.raw`(?:CAST\(\$\d+(?:::\w+)? AS [\w".]+\)|\$\d+(?:::\w+(?:\[\])?)?|'[^']*'(?:::\w+)?)`;

/** Column references compared with `=` (or a one-element IN) to a value, or to each other. */
function pins(sql: string): { values: Set<string>; equal: [string, string][] } {
  const values = new Set<string>();
  const equal: [string, string][] = [];
  const ref = String.raw`((?:"?[A-Za-z_][\w]*"?\.)*"?[A-Za-z_]\w*"?)`;
  for (const m of sql.matchAll(new RegExp(`${ref}\\s*(?:=\\s*${VALUE}|IN\\s*\\(\\s*${VALUE}\\s*\\))`, 'g'))) values.add(m[1]);
  for (const m of sql.matchAll(new RegExp(`${ref}\\s*=\\s*${ref}`, 'g'))) equal.push([m[1], m[2]]);
  return { values, equal };
}

/**
 * Why the statement would not run on one shard: each distributed table it reads, updates or deletes
 * must have its distribution column equal to a value, directly or through equalities with another
 * pinned column (co-located joins). An INSERT must name the distribution column. Empty when it passes.
 */
export function distributionViolations(sql: string): string[] {
  const { values, equal } = pins(sql);
  const pinned = new Set(values);
  for (let changed = true; changed; ) {
    changed = false;
    for (const [a, b] of equal) {
      if (pinned.has(a) !== pinned.has(b)) {
        pinned.add(a).add(b);
        changed = true;
      }
    }
  }
  const violations: string[] = [];
  for (const o of occurrences(sql)) {
    if (o.insert) {
      const columns = new RegExp(`INSERT INTO\\s+(?:"public"\\.)?"${o.table}"\\s*\\(([^)]*)\\)`).exec(sql)?.[1] ?? '';
      if (!columns.includes(`"${o.by}"`) && !new RegExp(`(^|[\\s,])${o.by}([\\s,]|$)`).test(columns)) violations.push(`INSERT INTO ${o.table} without ${o.by}`);
      continue;
    }
    const refs = columnRefs(o, o.by);
    if (!refs.some((r) => pinned.has(r))) violations.push(`${o.table}${o.alias ? ` ${o.alias}` : ''} not filtered by ${o.by} = <value>`);
  }
  return violations;
}
