// The published types of `pipet/client`: the build's one .d.ts, compiled with a user's file
// (tests/fixtures/client-types/usage.ts.txt). Right calls compile; each wrong field, value or
// procedure marked `@ts-expect-error` is an error — also in the management API, typed by the
// server's AppRouter — and the bundle carries no server code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import ts from 'typescript';
import { ROOT } from '../helpers/server.ts';
import { buildClient } from '../../src/client/build.ts';

// Inside the checkout, so the .d.ts finds @trpc/client and the other packages it names.
const outDir = join(ROOT, '.test-builds', `client-types-${randomBytes(4).toString('hex')}`);
let built: { js: string; dts: string | null };

beforeAll(async () => {
  built = await buildClient({ outDir });
}, 240_000);
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const MARK = '// @ts-expect-error';

/** Compiles `source` as a user's file importing `pipet/client`: its diagnostics, as `line: message`. */
function compile(source: string): string[] {
  const file = join(outDir, 'usage.ts');
  writeFileSync(file, source);
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    skipLibCheck: true,
    lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
    types: [],
    paths: { 'pipet/client': [built.dts!] },
  };
  const program = ts.createProgram([file], options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

describe('pipet/client types', () => {
  const fixture = readFileSync(join(ROOT, 'tests/fixtures/client-types/usage.ts.txt'), 'utf8');

  it('compile a user’s right calls, and make every marked wrong field an error', { timeout: 120_000 }, () => {
    expect(compile(fixture)).toEqual([]);
  });

  it('point each error at the wrong field (the file with its markers taken out)', { timeout: 120_000 }, () => {
    const lines = fixture.split('\n');
    const wrong = lines.flatMap((line, i) => (line.trim().startsWith(MARK) ? [i + 1 - lines.slice(0, i).filter((l) => l.trim().startsWith(MARK)).length] : []));
    expect(wrong.length).toBe(7);
    const errors = compile(lines.filter((l) => !l.trim().startsWith(MARK)).join('\n'));
    const erroneous = [...new Set(errors.map((e) => Number(e.split(':')[0])))];
    expect(erroneous).toEqual(wrong);
    expect(errors.join('\n')).toMatch(/teem/);
  });

  it('ship one small self-contained module with no server code in it', () => {
    const js = readFileSync(built.js, 'utf8');
    expect(statSync(built.js).size).toBeLessThan(100_000);
    expect(js).not.toMatch(/^import |^export \* from|require\(/m);
    for (const server of ['PrismaClient', 'pipet_append_events', 'ioredis', 'bullmq', 'quickjs', 'argon2']) expect(js).not.toContain(server);
  });
});
