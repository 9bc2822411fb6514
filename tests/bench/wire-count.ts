// Counting proxies on loopback between one Pipet process and PostgreSQL or Redis: every statement
// and every Redis command that process sends, by name, with no change to the server or to Pipet
// (point its DATABASE_URL / REDIS_URL at the proxy). A PostgreSQL round trip is a Sync (extended
// protocol) or a Query (simple protocol) message: the client waits for ReadyForQuery after each.
import { pgMessages, statementOf, wireProxy } from '../helpers/wire-proxy.ts';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './stack.ts';

export type Counts = Map<string, number>;

export type CountingProxy = {
  url: string;
  /** Counts since the last reset: PostgreSQL round trips by statement, or Redis commands by name. */
  counts(): Counts;
  reset(): void;
  close(): Promise<void>;
};

function bump(counts: Counts, key: string, n = 1) {
  counts.set(key, (counts.get(key) ?? 0) + n);
}

const clean = (sql: string) => sql.replace(/\s+/g, ' ').trim().slice(0, 160);

/** PostgreSQL: counts round trips, each labelled with the statement it ran (BEGIN/COMMIT included). */
export async function pgCountingProxy(databaseUrl: string): Promise<CountingProxy> {
  let counts: Counts = new Map();
  const p = await wireProxy(new URL(databaseUrl), 5432, () => {
    // Per connection: prepared statements by name, and the statement the next Sync completes.
    const names = new Map<string, string>();
    let pending = '';
    return pgMessages((type, body) => {
      const statement = statementOf(type, body);
      if (type === 'Q') bump(counts, clean(statement!.sql));
      else if (statement) {
        pending = clean(statement.sql);
        if (statement.name) names.set(statement.name, pending);
      } else if (type === 'B') {
        const portalEnd = body.indexOf(0);
        const name = body.toString('utf8', portalEnd + 1, body.indexOf(0, portalEnd + 1));
        if (name) pending = names.get(name) ?? `(prepared ${name})`;
      } else if (type === 'S') {
        bump(counts, pending || '(sync)');
        pending = '';
      }
    });
  });
  return { ...p, counts: () => counts, reset: () => (counts = new Map()) };
}

let scriptNames: Map<string, string> | undefined;

/** BullMQ's Lua scripts by SHA-1, so EVALSHA calls can be named. */
async function bullmqScripts(): Promise<Map<string, string>> {
  if (scriptNames) return scriptNames;
  scriptNames = new Map();
  const dir = join(ROOT, 'node_modules/bullmq/dist/esm/scripts');
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'index.js')) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, { name?: string; content?: string }>;
    for (const v of Object.values(mod)) if (v?.content && v.name) scriptNames.set(createHash('sha1').update(v.content).digest('hex'), v.name);
  }
  return scriptNames;
}

/** Redis: counts commands by name (EVALSHA named by BullMQ script; PUBLISH/SUBSCRIBE as they are). */
export async function redisCountingProxy(redisUrl: string): Promise<CountingProxy> {
  const target = new URL(redisUrl);
  const scripts = await bullmqScripts();
  let counts: Counts = new Map();
  const p = await wireProxy(target, 6379, () => {
    let buf = Buffer.alloc(0);
    return (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      // RESP arrays of bulk strings: *N\r\n then N × $len\r\n<bytes>\r\n.
      for (;;) {
        if (buf.length === 0 || buf[0] !== 0x2a /* * */) return;
        let at = buf.indexOf('\r\n');
        if (at < 0) return;
        const n = Number(buf.toString('latin1', 1, at));
        at += 2;
        const args: string[] = [];
        for (let i = 0; i < n; i++) {
          const eol = buf.indexOf('\r\n', at);
          if (eol < 0) return;
          const len = Number(buf.toString('latin1', at + 1, eol));
          if (buf.length < eol + 2 + len + 2) return;
          if (i < 2) args.push(buf.toString('utf8', eol + 2, eol + 2 + Math.min(len, 200)));
          at = eol + 2 + len + 2;
        }
        buf = buf.subarray(at);
        const command = (args[0] ?? '').toUpperCase();
        if (command === 'EVALSHA') bump(counts, `EVALSHA ${scripts.get(args[1]) ?? args[1].slice(0, 8)}`);
        else if (command === 'EVAL') bump(counts, `EVAL ${/Adds|Move|Remove|Get|Update|Extend/.exec(args[1])?.[0] ?? '(script)'}`);
        else bump(counts, command);
      }
    };
  });
  return { ...p, counts: () => counts, reset: () => (counts = new Map()) };
}

export function total(counts: Counts): number {
  let n = 0;
  for (const v of counts.values()) n += v;
  return n;
}

/** Adds `b` into `a`. */
export function addCounts(a: Counts, b: Counts): Counts {
  for (const [k, v] of b) bump(a, k, v);
  return a;
}

/** Lines "  1.00  statement", per `per` operations, most frequent first. */
export function describeCounts(counts: Counts, per: number): string[] {
  return [...counts].sort((x, y) => y[1] - x[1]).map(([k, v]) => `  ${(v / per).toFixed(2).padStart(6)}  ${k}`);
}
