// Fixtures for the effects tests: a team with a stream and reducer to hang Effect rows on, the
// deliver/timers workers in this process, and a webhook receiver on loopback that checks signatures.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { Db } from '../../src/lib/server/db/client.ts';
import { makeTeam, makeStream } from './context.ts';

export type EffectFixture = { teamId: string; teamSlug: string; streamId: string; streamSlug: string; reducerId: string; reducerName: string; secret: string };

export async function effectFixture(db: Db, reducerName = 'r'): Promise<EffectFixture> {
  const team = await makeTeam(db);
  const stream = await makeStream(db, { teamId: team.id, slug: 'effects', name: 'effects' });
  const reducer = await db.reducer.create({ data: { streamId: stream.id, name: reducerName, code: '(s) => s' } });
  const { signingSecret } = await db.team.findUniqueOrThrow({ where: { id: team.id } });
  return { teamId: team.id, teamSlug: team.slug, streamId: stream.id, streamSlug: stream.slug, reducerId: reducer.id, reducerName, secret: signingSecret };
}

let ordinal = 0;

/** Stores a pending effect as the fold would (rows first) and, unless told not to, enqueues it. */
export async function insertEffect(db: Db, f: Pick<EffectFixture, 'teamId' | 'streamId' | 'reducerId'>, kind: 'webhook' | 'email' | 'timer', payload: object, options: { enqueue?: boolean; nextAttemptAt?: Date; status?: 'pending' | 'failed' | 'delivered' | 'suppressed' } = {}): Promise<string> {
  const id = `eff_test_${randomBytes(8).toString('hex')}`;
  const row = await db.effect.create({
    data: { id, teamId: f.teamId, streamId: f.streamId, reducerId: f.reducerId, version: 1, eventIndex: ordinal++, ordinal: 0, kind, payload, status: options.status ?? 'pending', nextAttemptAt: options.nextAttemptAt ?? new Date() },
  });
  if (options.enqueue !== false) {
    const { enqueueEffect } = await import('../../src/lib/server/effects/enqueue-effect.ts');
    await enqueueEffect(row);
  }
  return id;
}

/** Polls the row until its status is one of `statuses`. */
export async function waitForEffect(db: Db, id: string, statuses: string[] = ['delivered', 'failed'], timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await db.effect.findFirstOrThrow({ where: { id }, include: { attemptLog: { orderBy: { startedAt: 'asc' } } } });
    if (statuses.includes(row.status)) return row;
    if (Date.now() > deadline) throw new Error(`effect ${id} is still ${row.status} after ${row.attempts} attempts: ${row.lastError}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** BullMQ workers for every shard of `deliver` and `timers` in this process (the processors the worker registers). */
export async function startEffectWorkers(): Promise<{ close(): Promise<void> }> {
  const { Worker } = await import('bullmq');
  const { createRedis } = await import('../../src/lib/server/redis.ts');
  const { queuePrefix, queueShards } = await import('../../src/lib/server/queue/enqueue.ts');
  const { processorFor } = await import('../../src/worker/processors/index.ts');
  const running = (['deliver', 'timers'] as const).flatMap((name) =>
    Array.from({ length: queueShards() }, (_, shard) => {
      const connection = createRedis('worker');
      const worker = new Worker(name, processorFor(name), { connection, prefix: queuePrefix(shard), concurrency: 8 });
      worker.on('error', () => {});
      return { worker, connection };
    }),
  );
  return {
    async close() {
      for (const { worker, connection } of running) {
        await worker.close();
        connection.disconnect();
      }
    },
  };
}

export type Received = { path: string; method: string; headers: http.IncomingHttpHeaders; body: string; verified: boolean; error?: string };
type Handler = (req: Received, res: http.ServerResponse) => void;

/**
 * A webhook receiver on 127.0.0.1. `on(path, handler)` decides the answer; every request is kept
 * with whether its Standard Webhooks signature verified against `secret`.
 */
export async function startReceiver(secret: string) {
  const received: Received[] = [];
  const handlers = new Map<string, Handler>();
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = (req.url ?? '/').split('?')[0];
      let verified = false;
      let error: string | undefined;
      try {
        new Webhook(secret).verify(body, req.headers as Record<string, string>);
        verified = true;
      } catch (e) {
        error = (e as Error).message;
      }
      const r: Received = { path, method: req.method ?? '', headers: req.headers, body, verified, error };
      received.push(r);
      const handler = handlers.get(path);
      if (!handler) {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
        return;
      }
      hanging.add(res);
      res.on('close', () => hanging.delete(res));
      handler(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    at: (path: string) => received.filter((r) => r.path === path),
    on(path: string, handler: Handler) {
      handlers.set(path, handler);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
