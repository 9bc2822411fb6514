// Latency, measured the way a client sees it:
// - POST acknowledged (`201`), one client, one request at a time;
// - POST → state visible: POST, then `GET …/state/{reducer}?after={index}` (read-your-writes);
//   one client at a time, and open-loop at a steady rate, where each event is sent on its schedule
//   and measured from its scheduled time, so time spent queueing counts;
// - POST → webhook: the reducer calls `request()` and a receiver on loopback records the arrival.
import http from 'node:http';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';
import { Client, sleep } from './client.ts';

/** Sequential POSTs (`count`, or as many as fit in `maxMs` after the warm-up); milliseconds from send to `201`. */
export async function ackLatency({ client, path, count, maxMs = 15_000, warmup = 100 }: { client: Client; path: string; count: number; maxMs?: number; warmup?: number }): Promise<number[]> {
  const samples: number[] = [];
  let deadline = Infinity;
  for (let i = 0; i < warmup + count && performance.now() < deadline; i++) {
    if (i === warmup) deadline = performance.now() + maxMs;
    const t0 = performance.now();
    await client.append(path, { type: 'click', i });
    if (i >= warmup) samples.push(performance.now() - t0);
  }
  return samples;
}

async function waitState(client: Client, statePath: string, index: number): Promise<void> {
  const r = await client.request('GET', `${statePath}?after=${index}`);
  if (r.status !== 200) throw new Error(`GET ${statePath}?after=${index}: ${r.status} ${r.body.slice(0, 200)}`);
  const folded = Number(r.headers['pipet-folded']);
  if (!(folded > index)) throw new Error(`GET ?after=${index} answered with only ${folded} folded`);
}

/** One client: POST, then GET state?after=index; milliseconds from the POST's send to the state's answer. */
export async function postToState({ client, path, statePath, count, maxMs = 20_000, warmup = 50 }: { client: Client; path: string; statePath: string; count: number; maxMs?: number; warmup?: number }): Promise<{ total: number[]; ack: number[] }> {
  const total: number[] = [];
  const ack: number[] = [];
  let deadline = Infinity;
  for (let i = 0; i < warmup + count && performance.now() < deadline; i++) {
    if (i === warmup) deadline = performance.now() + maxMs;
    const t0 = performance.now();
    const index = await client.append(path, { type: 'click', i });
    const t1 = performance.now();
    await waitState(client, statePath, index);
    if (i >= warmup) {
      ack.push(t1 - t0);
      total.push(performance.now() - t0);
    }
  }
  return { total, ack };
}

export type OpenLoopResult = { sent: number; ok: number; errors: number; incomplete: number; firstError?: string; total: number[]; ack: number[]; maxSendLagMs: number; seconds: number };

/**
 * Open loop at `rate` events/s for `seconds`: event k is due at start + k/rate; it is sent then (or
 * as soon as the loop gets there) and its latency counts from its due time. Events still unanswered
 * `drainMs` after the last send are cut off and counted as incomplete, with the time they had
 * waited by then as a lower bound of their latency (so a saturated run still ends, and shows it).
 */
export async function openLoopPostToState({ base, headers, path, statePath, rate, seconds, drainMs = 20_000 }: { base: string; headers: Record<string, string>; path: string; statePath: string; rate: number; seconds: number; drainMs?: number }): Promise<OpenLoopResult> {
  const posts = new Client(base, headers, 256);
  const states = new Client(base, headers, 1024);
  const total: number[] = [];
  const ack: number[] = [];
  let ok = 0;
  let errors = 0;
  let firstError: string | undefined;
  let maxSendLagMs = 0;
  let cut = false;
  const pending = new Map<number, number>(); // event → due time, while unanswered
  const count = Math.round(rate * seconds);
  const start = performance.now() + 20;
  let drained: () => void = () => {};
  const allDone = new Promise<void>((r) => (drained = r));
  let sending = true;
  const settle = (k: number) => {
    pending.delete(k);
    if (!sending && pending.size === 0) drained();
  };
  try {
    for (let k = 0; k < count; k++) {
      const due = start + (k * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      maxSendLagMs = Math.max(maxSendLagMs, performance.now() - due);
      pending.set(k, due);
      void (async () => {
        try {
          const index = await posts.append(path, { type: 'click', k });
          if (cut) return;
          ack.push(performance.now() - due);
          await waitState(states, statePath, index);
          if (cut) return;
          total.push(performance.now() - due);
          ok++;
        } catch (error) {
          if (cut) return;
          errors++;
          firstError ??= (error as Error).message;
        }
        settle(k);
      })();
    }
    sending = false;
    if (pending.size > 0) await Promise.race([allDone, sleep(drainMs)]);
    cut = true;
    const now = performance.now();
    for (const due of pending.values()) total.push(now - due);
  } finally {
    posts.close();
    states.close();
  }
  return { sent: count, ok, errors, incomplete: pending.size, firstError, total, ack, maxSendLagMs, seconds };
}

/** After a saturating load: waits (≤ timeoutMs) until the stream stops growing and its reducer has folded it all. */
export async function settle({ client, path, statePath, timeoutMs = 45_000 }: { client: Client; path: string; statePath: string; timeoutMs?: number }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = -1;
  for (;;) {
    const length = Number((await client.request('GET', `${path}/length`)).body);
    if (length === last || Date.now() > deadline) break;
    last = length;
    await sleep(500);
  }
  while (last > 0 && Date.now() < deadline) {
    const r = await client.request('GET', `${statePath}?after=${last - 1}`);
    if (r.status === 200) return;
  }
}

/** A receiver on loopback; `arrived(i)` resolves when a webhook whose JSON body has `i` arrives. */
export async function webhookReceiver(): Promise<{ url: string; arrived(i: number): Promise<number>; close(): Promise<void> }> {
  const waiting = new Map<number, (t: number) => void>();
  const early = new Map<number, number>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = performance.now();
      res.writeHead(204).end();
      try {
        const i = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { i: number }).i;
        const w = waiting.get(i);
        if (w) w(t);
        else early.set(i, t);
      } catch {
        /* not ours */
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${port}/hook`,
    arrived(i) {
      const t = early.get(i);
      if (t !== undefined) return Promise.resolve(t);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`webhook ${i} did not arrive within 30 s`)), 30_000);
        waiting.set(i, (at) => {
          clearTimeout(timer);
          waiting.delete(i);
          resolve(at);
        });
      });
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A reducer whose every event makes one webhook carrying the event's `i`. */
export function webhookReducer(url: string): string {
  return `(n, e) => { request(${JSON.stringify(url)}, { body: { i: e.i } }); return n + 1; }`;
}

/** One client: POST {i}, wait for webhook i; milliseconds from the POST's send to the webhook's arrival. */
export async function postToWebhook({ client, path, receiver, count, maxMs = 15_000, warmup = 20 }: { client: Client; path: string; receiver: Awaited<ReturnType<typeof webhookReceiver>>; count: number; maxMs?: number; warmup?: number }): Promise<number[]> {
  const samples: number[] = [];
  let deadline = Infinity;
  for (let i = 0; i < warmup + count && performance.now() < deadline; i++) {
    if (i === warmup) deadline = performance.now() + maxMs;
    const t0 = performance.now();
    const arrived = receiver.arrived(i);
    arrived.catch(() => {}); // awaited below; a failed POST must not leave it unhandled
    await client.append(path, { type: 'click', i });
    const t = await arrived;
    if (i >= warmup) samples.push(t - t0);
  }
  return samples;
}
