// Splits a migration script into statements at the `;` that end them, not at those inside quoted
// strings, identifiers, comments or dollar-quoted bodies (a plpgsql function has many).
// adapter-pg's own executeScript splits at every `;`; db/migrate.ts runs scripts through this instead.

/** The script's statements, trimmed, empty ones left out. */
export function splitSqlScript(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  while (i < n) {
    const c = script[i];
    const next = script[i + 1];
    if (c === "'" || c === '"') {
      // '' and "" escape the quote inside; E'' strings' backslash escapes are not used in migrations.
      i++;
      while (i < n) {
        if (script[i] === c) {
          if (script[i + 1] === c) i += 2;
          else break;
        } else i++;
      }
      i++;
    } else if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      i = end === -1 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (script[i] === '/' && script[i + 1] === '*') (depth++, (i += 2));
        else if (script[i] === '*' && script[i + 1] === '/') (depth--, (i += 2));
        else i++;
      }
    } else if (c === '$') {
      // A dollar quote: $$ or $tag$ (a tag is an identifier, so `$1` is a parameter, not a quote).
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 66));
      if (tag && !/[A-Za-z0-9_]/.test(script[i - 1] ?? '')) {
        const end = script.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? n : end + tag[0].length;
      } else i++;
    } else if (c === ';') {
      statements.push(script.slice(start, i));
      start = ++i;
    } else i++;
  }
  statements.push(script.slice(start));
  return statements.map((s) => s.trim()).filter((s) => s.length > 0 && !onlyComments(s));
}

function onlyComments(statement: string): boolean {
  return statement.replace(/--[^\n]*(\n|$)/g, '').replace(/\/\*[\s\S]*?\*\//g, '').trim() === '';
}
