// POST → state visible: appends at a steady rate over HTTP while one SSE connection watches the
// counter's state; an event's latency is from just before its POST to the state change covering it.
import { startWeb, startWorkerProcess } from '../helpers/server.ts';

export async function benchLatency({ rate, seconds, env }: { rate: number; seconds: number; env: { DATABASE_URL: string; REDIS_URL: string; QUEUE_PREFIX: string } }) {
  const { db } = await import('../../src/lib/server/db/client.ts');
  const { createApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
  const { newSigningSecret } = await import('../../src/lib/server/teams/create-team.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const web = await startWeb(env);
  const worker = startWorkerProcess(env);
  try {
    const slug = `bench-${rate}`;
    const team = await db().team.create({ data: { slug, name: 'bench', signingSecret: newSigningSecret() } });
    const stream = await db().stream.create({ data: { teamId: team.id, slug: 'clicks', name: 'clicks' } });
    await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
    const { key } = await createApiKey({ teamId: team.id, name: 'bench', scopes: ['ingest', 'read'] });
    const base = `${web.url}/s/${slug}/clicks`;
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

    // Watch folded counts.
    const sentAt: number[] = [];
    const latencies: number[] = [];
    let seen = 0;
    const controller = new AbortController();
    const sse = await fetch(`${base}/state/count/events`, { headers, signal: controller.signal });
    const reader = sse.body!.pipeThrough(new TextDecoderStream()).getReader();
    const watching = (async () => {
      let buffer = '';
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += value;
          for (const m of buffer.matchAll(/"folded":(\d+)/g)) {
            const folded = Number(m[1]);
            const now = performance.now();
            for (; seen < folded && seen < sentAt.length; seen++) latencies.push(now - sentAt[seen]);
          }
          buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
        }
      } catch {
        /* aborted */
      }
    })();

    let acked = 0;
    const ackLatencies: number[] = [];
    const total = rate * seconds;
    const start = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sentAt[i] = performance.now();
      inflight.push(
        fetch(base, { method: 'POST', headers, body: JSON.stringify({ i }) }).then(async (r) => {
          await r.arrayBuffer();
          if (r.status === 201) acked++;
          ackLatencies.push(performance.now() - sentAt[i]);
        }),
      );
      if (inflight.length > 200) await Promise.all(inflight.splice(0, 100));
    }
    await Promise.all(inflight);
    const deadline = performance.now() + 30_000;
    while (seen < total && performance.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    controller.abort();
    await watching;
    latencies.sort((a, b) => a - b);
    ackLatencies.sort((a, b) => a - b);
    const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? NaN;
    return { sent: total, acked, p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies.at(-1) ?? NaN, ackP50: pct(ackLatencies, 50), ackP99: pct(ackLatencies, 99) };
  } finally {
    await worker.stop();
    await web.stop();
  }
}
