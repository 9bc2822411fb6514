// Sums self time in V8 .cpuprofile files (from `node --cpu-prof`) per function, per file and per
// package, and prints the top entries as shares of the busy (non-idle) time.
// Run: npx node tests/bench/cpuprofile-top.ts <file.cpuprofile | folder>... [--top 25] [--window FROM_US-TO_US]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number };
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };

export type Row = { key: string; ms: number; share: number };
export type ProfileSummary = { file: string; wallMs: number; busyMs: number; idleMs: number; gcMs: number; socketWriteMs: number; functions: Row[]; files: Row[]; packages: Row[] };

// Native stream writes: a socket write to PostgreSQL, Redis or an HTTP client. Time the thread spends
// in them includes being preempted by the process it just woke, on a busy machine.
const SOCKET_WRITES = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString']);

/** A short, stable name for a script URL: the package under node_modules, the project path, or node:… */
export function shortUrl(url: string): string {
  if (!url) return '(native)';
  const u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  const project = /\/(src|build|tests|\.test-builds\/[^/]+\/build)\/.*/.exec(u);
  if (project) return project[0].slice(1).replace(/^\.test-builds\/[^/]+\//, '');
  return u;
}

export function packageOf(url: string): string {
  const s = shortUrl(url);
  if (s === '(native)') return '(native / V8)';
  if (s.startsWith('node:')) return 'node: internals';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + '/node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  if (s.startsWith('build/server/chunks') || s.startsWith('build/')) return 'build (SvelteKit app bundle, incl. src/lib)';
  if (s.startsWith('src/')) return s.split('/').slice(0, 4).join('/');
  return s;
}

function top(map: Map<string, number>, busyMs: number, n: number): Row[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([key, us]) => ({ key, ms: us / 1000, share: busyMs > 0 ? us / 1000 / busyMs : 0 }));
}

/** Monotonic microseconds, the clock V8 stamps profiles with (CLOCK_MONOTONIC on Linux). */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function, file and package. With `window` (monotonicUs() readings taken around a
 * load), only samples inside it count, so start-up (module loading, compiling) is left out.
 */
export function summarize(file: string, n = 25, window?: { fromUs: number; toUs: number }): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time before sample i; attribute each interval to the sample that ends it.
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + delta);
  }
  const from = window ? Math.max(window.fromUs, profile.startTime) : profile.startTime;
  const to = window ? Math.min(window.toUs, profile.endTime) : profile.endTime;
  const functions = new Map<string, number>();
  const files = new Map<string, number>();
  const packages = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  let socketWrites = 0;
  let all = 0;
  for (const [nodeId, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(nodeId)!.callFrame;
    all += us;
    if (functionName === '(idle)') {
      idle += us;
      continue;
    }
    // The profiler's own stop call (cpu-profile-hook.ts) is not the program's work.
    if (url === 'node:inspector') {
      idle += us;
      continue;
    }
    if (functionName === '(garbage collector)') gc += us;
    if (!url && SOCKET_WRITES.has(functionName)) socketWrites += us;
    const name = functionName || '(anonymous)';
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    functions.set(`${name} ${where}`.trim(), (functions.get(`${name} ${where}`.trim()) ?? 0) + us);
    const fileKey = url ? shortUrl(url) : name.startsWith('(') ? name : '(native)';
    files.set(fileKey, (files.get(fileKey) ?? 0) + us);
    const pkg = url ? packageOf(url) : name.startsWith('(') ? name : '(native / V8)';
    packages.set(pkg, (packages.get(pkg) ?? 0) + us);
  }
  const busyMs = (all - idle) / 1000;
  return {
    file,
    wallMs: (to - from) / 1000,
    busyMs,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    socketWriteMs: socketWrites / 1000,
    functions: top(functions, busyMs, n),
    files: top(files, busyMs, n),
    packages: top(packages, busyMs, n),
  };
}

export function formatSummary(s: ProfileSummary, label = s.file): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `== ${label}`,
    `   window ${(s.wallMs / 1000).toFixed(1)} s, busy ${(s.busyMs / 1000).toFixed(2)} s (${((s.busyMs / s.wallMs) * 100).toFixed(0)}% of one core), GC ${pct(s.gcMs / s.busyMs)}, socket writes (writev, writeBuffer, writeUtf8String) ${pct(s.socketWriteMs / s.busyMs)} of busy`,
    '   -- self time by package / area (% of busy)',
    ...s.packages.slice(0, 15).map((r) => `   ${pct(r.share)} ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
    '   -- self time by file',
    ...s.files.map((r) => `   ${pct(r.share)} ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
    '   -- self time by function',
    ...s.functions.map((r) => `   ${pct(r.share)} ${r.ms.toFixed(0).padStart(7)} ms  ${r.key}`),
  ];
  return lines.join('\n');
}

function profilesIn(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => f.endsWith('.cpuprofile'))
    .sort()
    .map((f) => join(path, f));
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const topAt = args.indexOf('--top');
  const n = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25;
  // --window FROM_US-TO_US: only samples between two monotonicUs() readings.
  const windowAt = args.indexOf('--window');
  const window = windowAt >= 0 ? (([a, b]) => ({ fromUs: Number(a), toUs: Number(b) }))(args.splice(windowAt, 2)[1].split('-')) : undefined;
  for (const file of args.flatMap(profilesIn)) console.log(`${formatSummary(summarize(file, n, window))}\n`);
}
