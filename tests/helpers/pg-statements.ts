// A recording proxy on loopback between Pipet processes and PostgreSQL: every SQL statement they
// send (simple Query messages and extended-protocol Parse messages), whole, in order. Point a
// process's DATABASE_URL at `url`; nothing else changes. (tests/bench/wire-count.ts counts round
// trips; this keeps the text, for checks of what the statements say.)
import { pgMessages, statementOf, wireProxy } from './wire-proxy.ts';

export type StatementRecorder = {
  url: string;
  /** The statements seen since the last reset, whitespace collapsed, in the order they were sent. */
  statements(): string[];
  reset(): void;
  close(): Promise<void>;
};

export async function recordStatements(databaseUrl: string): Promise<StatementRecorder> {
  let seen: string[] = [];
  const proxy = await wireProxy(new URL(databaseUrl), 5432, () =>
    pgMessages((type, body) => {
      const statement = statementOf(type, body);
      if (statement) seen.push(clean(statement.sql));
    }),
  );
  return {
    ...proxy,
    statements: () => seen,
    reset: () => {
      seen = [];
    },
  };
}

const clean = (sql: string) => sql.replace(/\s+/g, ' ').trim();
