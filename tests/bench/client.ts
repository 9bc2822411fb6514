// A small keep-alive HTTP client for the latency measurements (lighter than fetch, so the client
// adds as little as it can to what is measured), and the percentile arithmetic.
import http from 'node:http';

export type Reply = { status: number; body: string; headers: http.IncomingHttpHeaders };

export class Client {
  readonly agent: http.Agent;
  readonly base: string;
  readonly headers: Record<string, string>;
  constructor(base: string, headers: Record<string, string> = {}, maxSockets = 1) {
    this.base = base;
    this.headers = headers;
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  request(method: string, path: string, body?: string): Promise<Reply> {
    const url = new URL(path, this.base);
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method, agent: this.agent, headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** POSTs one JSON value; resolves with the index it was given (throws unless 201). */
  async append(path: string, value: unknown): Promise<number> {
    const r = await this.request('POST', path, JSON.stringify(value));
    if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${r.body.slice(0, 200)}`);
    return (JSON.parse(r.body) as { index: number }).index;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The p-th percentile (nearest rank) of the samples; NaN when there are none. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export function summary(samples: number[]): { n: number; p50: number; p90: number; p99: number; max: number } {
  return { n: samples.length, p50: percentile(samples, 50), p90: percentile(samples, 90), p99: percentile(samples, 99), max: percentile(samples, 100) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
