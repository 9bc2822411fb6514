// Closed-loop HTTP load: `wrk` where installed (a Lua script POSTs the body), else autocannon as a
// library. Both keep connections alive; the figure is requests per second over the run.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import autocannon from 'autocannon';

export type LoadResult = { tool: string; requestsPerS: number; requests: number; errors: number; p50Ms: number; p99Ms: number };

export type LoadOptions = { url: string; body: string; authorization?: string; connections: number; seconds: number };

const hasWrk = spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined && process.env.BENCH_LOAD !== 'autocannon';

export function loadTool(): string {
  return hasWrk ? 'wrk' : 'autocannon';
}

export function postLoad(options: LoadOptions): Promise<LoadResult> {
  return hasWrk ? wrk(options) : cannon(options);
}

function wrk({ url, body, authorization = '', connections, seconds }: LoadOptions): Promise<LoadResult> {
  const args = ['-t', String(Math.min(2, connections)), '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s', '-s', join(import.meta.dirname, 'wrk-post.lua'), url];
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { env: { ...process.env, BENCH_BODY: body, BENCH_AUTH: authorization }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      const line = /WRK_JSON (\{.*\})/.exec(out)?.[1];
      if (!line) return reject(new Error(`wrk printed no figures:\n${out}`));
      const r = JSON.parse(line) as Record<string, number>;
      resolve({
        tool: 'wrk',
        requests: r.requests,
        requestsPerS: r.requests / (r.duration_us / 1e6),
        errors: r.connect + r.read + r.write + r.status + r.timeout,
        p50Ms: r.p50_us / 1000,
        p99Ms: r.p99_us / 1000,
      });
    });
  });
}

async function cannon({ url, body, authorization, connections, seconds }: LoadOptions): Promise<LoadResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization) headers.authorization = authorization;
  const r = await autocannon({ url, method: 'POST', body, headers, connections, duration: seconds });
  return {
    tool: 'autocannon',
    requests: r.requests.total,
    requestsPerS: r.requests.total / (r.duration || seconds),
    errors: r.errors + r.timeouts + r.non2xx,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
  };
}
