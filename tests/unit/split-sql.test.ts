// Migration scripts split where statements end: a plpgsql body, quoted `;` and comments stay whole.
import { describe, expect, it } from 'vitest';
import { splitSqlScript } from '../../src/lib/server/db/split-sql.ts';

describe('splitSqlScript', () => {
  it('splits at the `;` that end statements', () => {
    expect(splitSqlScript('CREATE TABLE a (x int);\n\n-- a comment\nALTER TABLE a ADD COLUMN y int;\n')).toEqual([
      'CREATE TABLE a (x int)',
      '-- a comment\nALTER TABLE a ADD COLUMN y int',
    ]);
  });

  it('keeps dollar-quoted bodies, strings, identifiers and comments whole', () => {
    const fn = `CREATE FUNCTION f(a int) RETURNS int LANGUAGE plpgsql AS $$
DECLARE b int;
BEGIN
  b := a + 1; RETURN b;
END
$$`;
    const tagged = `CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;y' $body$`;
    expect(splitSqlScript(`${fn};\n${tagged};\nSELECT 'a;b', "we;ird", $1 /* c; */ -- d;\n;`)).toEqual([fn, tagged, `SELECT 'a;b', "we;ird", $1 /* c; */ -- d;`]);
  });

  it('leaves out empty statements and comment-only tails', () => {
    expect(splitSqlScript('SELECT 1;;\n-- the end\n')).toEqual(['SELECT 1']);
  });
});
