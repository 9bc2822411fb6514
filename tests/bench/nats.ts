// The peer reference: NATS JetStream on loopback. One client publishes (awaiting the stream's
// acknowledgement, i.e. stored) and a durable pull consumer receives; the figure is publish →
// received, one message at a time — the analogue of Pipet's POST → state visible.
// Uses the machine's nats-server on 127.0.0.1:4222 when it answers with JetStream, else starts
// one with `-js` on a free loopback port and a store of its own (removed afterwards).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AckPolicy, connect, type NatsConnection } from 'nats';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';
import { sleep, summary } from './client.ts';

export type NatsFigures = { server: string; publishAck: ReturnType<typeof summary>; publishToConsumer: ReturnType<typeof summary> };

async function jetStreamAt(url: string): Promise<NatsConnection | null> {
  try {
    const nc = await connect({ servers: url, timeout: 1_000, reconnect: false });
    try {
      await (await nc.jetstreamManager({ timeout: 1_000 })).getAccountInfo();
      return nc;
    } catch {
      await nc.close();
      return null;
    }
  } catch {
    return null;
  }
}

async function ownServer(): Promise<{ url: string; child: ChildProcess; storeDir: string }> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'pipet-bench-nats-'));
  const child = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', storeDir], { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  return { url: `nats://127.0.0.1:${port}`, child, storeDir };
}

export async function benchNats({ id, messages = 1_000 }: { id: string; messages?: number }): Promise<NatsFigures> {
  let own: Awaited<ReturnType<typeof ownServer>> | undefined;
  let nc = await jetStreamAt(process.env.NATS_URL ?? 'nats://127.0.0.1:4222');
  let server = 'the machine\'s nats-server (127.0.0.1:4222)';
  if (!nc) {
    own = await ownServer();
    for (let i = 0; i < 50 && !nc; i++) {
      nc = await jetStreamAt(own.url);
      if (!nc) await sleep(100);
    }
    if (!nc) throw new Error('nats-server -js did not start');
    server = `a nats-server -js of this run's own (${own.url})`;
  }
  const name = `PIPET_BENCH_${id.replace(/[^A-Za-z0-9]/g, '_')}`;
  const subject = `pipet-bench.${id}`;
  const jsm = await nc.jetstreamManager();
  try {
    await jsm.streams.add({ name, subjects: [subject] });
    await jsm.consumers.add(name, { durable_name: 'bench', ack_policy: AckPolicy.Explicit });
    const js = nc.jetstream();
    const consumer = await js.consumers.get(name, 'bench');
    const iterator = await consumer.consume({ max_messages: 64 });
    const waiters = new Map<number, () => void>();
    const consuming = (async () => {
      for await (const m of iterator) {
        m.ack();
        waiters.get(Number(new TextDecoder().decode(m.data)))?.();
      }
    })();
    const payload = (i: number) => new TextEncoder().encode(String(i));
    const acks: number[] = [];
    const latencies: number[] = [];
    for (let i = 0; i < messages + 100; i++) {
      const received = new Promise<void>((r) => waiters.set(i, r));
      const t0 = performance.now();
      await js.publish(subject, payload(i));
      const acked = performance.now();
      await received;
      waiters.delete(i);
      if (i >= 100) {
        // The first 100 warm up connections and the consumer.
        acks.push(acked - t0);
        latencies.push(performance.now() - t0);
      }
    }
    iterator.stop();
    await consuming;
    return { server, publishAck: summary(acks), publishToConsumer: summary(latencies) };
  } finally {
    await jsm.streams.delete(name).catch(() => {});
    await nc.close();
    if (own) {
      own.child.kill('SIGTERM');
      await new Promise((r) => own!.child.once('exit', r));
      rmSync(own.storeDir, { recursive: true, force: true });
    }
  }
}

if (import.meta.main) console.log(await benchNats({ id: `t${Date.now().toString(36)}` }));
