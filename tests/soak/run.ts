// `npm run soak -- --minutes N`: steady ingest for N minutes against Pipet's production build
// (web + worker) on a database and Redis prefix of its own, with reducers that fold every event,
// fire webhooks to a receiver on loopback and record emails. Memory is printed as it goes. Then it
// waits for everything to settle and checks: every acknowledged event stored exactly once and
// densely, every reducer caught up to its stream's length with the right state, every effect
// settled (delivered) and every webhook received. Exits non-zero on any failure.
import http from 'node:http';
import { parseArgs } from 'node:util';
import type { AddressInfo } from 'node:net';
import { Client, sleep } from '../bench/client.ts';
import { benchResources, buildPipet, startPipet, type Pipet } from '../bench/stack.ts';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '2' }, rate: { type: 'string', default: '150' }, streams: { type: 'string', default: '4' } } });
const minutes = Number(values.minutes);
const rate = Number(values.rate); // events per second, all streams together
const streamCount = Number(values.streams);
if (!(minutes > 0) || !(rate > 0) || !(streamCount > 0)) throw new Error('usage: npm run soak -- --minutes N [--rate events/s] [--streams n]');

const began = Date.now();
const log = (s: string) => console.log(`[soak +${((Date.now() - began) / 1000).toFixed(0)}s] ${s}`);
const id = `soak${Date.now().toString(36)}`;
const resources = await benchResources(id);
Object.assign(process.env, { DATABASE_URL: resources.databaseUrl, REDIS_URL: resources.services.redisUrl, QUEUE_PREFIX: resources.prefix, NODE_ENV: 'production' });
(await import('../../src/lib/server/env.ts')).resetEnv();

let pipet: Pipet | undefined;
let receiver: http.Server | undefined;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await pipet?.stop();
  await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
  const { closeAll } = await import('../../src/lib/server/shutdown.ts');
  await closeAll();
  await resources.cleanup();
}
// Ctrl-C stops Pipet and removes the run's database, Redis keys and build folder.
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
const failures: string[] = [];
const check = (ok: boolean, what: string) => {
  if (!ok) failures.push(what);
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

try {
  // A webhook receiver that counts what it got, by webhook-id (effect id).
  const received = new Map<string, number>();
  receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const id = String(req.headers['webhook-id'] ?? '');
      received.set(id, (received.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  log('building the web app');
  const buildDir = buildPipet(resources.buildRoot);
  pipet = await startPipet({ buildDir, env: { DATABASE_URL: resources.databaseUrl, REDIS_URL: resources.services.redisUrl, QUEUE_PREFIX: resources.prefix } });

  const { db } = await import('../../src/lib/server/db/client.ts');
  const { makeTeam, makeStream } = await import('../helpers/context.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const team = await makeTeam(db());
  // One email per 50 events is more than the default daily quota (EMAIL_QUOTA_PER_DAY) over a long
  // soak: raise this team's, as an operator would (`pipet admin set-limits --email-quota`).
  await db().team.update({ where: { id: team.id }, data: { emailQuotaPerDay: Math.ceil((rate * minutes * 60) / 50) * 2 + 100 } });
  const key = await team.key(['ingest', 'read']);
  const slugs = Array.from({ length: streamCount }, (_, i) => `soak-${i}`);
  const streamIds: Record<string, string> = {};
  for (const slug of slugs) {
    const s = await makeStream(db(), { teamId: team.id, slug, name: slug });
    streamIds[slug] = s.id;
    await upsertReducer({ streamId: s.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
    await upsertReducer({
      streamId: s.id,
      name: 'effects',
      code: `(s, e, i) => { if (i % 10 === 0) request(${JSON.stringify(hookUrl)}, { body: { i, id: e.id } }); if (i % 50 === 0) email({ to: 'soak@example.com', subject: 'event ' + i }); return { n: s.n + 1, sum: s.sum + e.v }; }`,
      initialState: { n: 0, sum: 0 },
    });
  }

  // Steady ingest: one client per stream, each sending on a schedule; every acknowledged id kept.
  const acked: Record<string, Map<number, string>> = Object.fromEntries(slugs.map((s) => [s, new Map()]));
  const sums: Record<string, number> = Object.fromEntries(slugs.map((s) => [s, 0]));
  let errors = 0;
  const end = Date.now() + minutes * 60_000;
  const perStream = rate / slugs.length;
  const clients = slugs.map(async (slug, c) => {
    const client = new Client(pipet!.url, { authorization: `Bearer ${key}` });
    let k = 0;
    const start = Date.now();
    while (Date.now() < end) {
      const due = start + (k * 1000) / perStream;
      if (due > Date.now()) await sleep(due - Date.now());
      const eventId = `${c}-${k}`;
      const v = k % 7;
      try {
        const index = await client.append(`/s/${team.slug}/${slug}`, { id: eventId, v });
        acked[slug].set(index, eventId);
        sums[slug] += v;
      } catch {
        errors++;
      }
      k++;
    }
    client.close();
  });
  const memory = setInterval(() => {
    const sent = Object.values(acked).reduce((n, m) => n + m.size, 0);
    log(`${sent.toLocaleString('en')} events acknowledged, ${errors} errors; RSS web ${pipet!.web.rssMb().toFixed(0)} MiB, worker ${pipet!.worker.rssMb().toFixed(0)} MiB`);
  }, 30_000);
  await Promise.all(clients);
  clearInterval(memory);
  const total = Object.values(acked).reduce((n, m) => n + m.size, 0);
  log(`ingest done: ${total.toLocaleString('en')} events acknowledged in ${minutes} min, ${errors} errors; RSS web ${pipet.web.rssMb().toFixed(0)} MiB, worker ${pipet.worker.rssMb().toFixed(0)} MiB`);
  check(errors === 0, `no request failed (${errors} did)`);

  // Settle: every reducer caught up, every effect delivered (bounded wait).
  const deadline = Date.now() + 5 * 60_000;
  for (;;) {
    const [behind] = await db().$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM "ReducerState" rs JOIN "Reducer" r ON r.id = rs."reducerId" JOIN "Stream" s ON s.id = r."streamId"
      WHERE s."teamId" = ${team.id}::uuid AND rs.cursor < s.length`;
    const unsettled = await db().effect.count({ where: { teamId: team.id, status: { in: ['pending', 'failed'] } } });
    if (behind.n === 0 && unsettled === 0) break;
    if (Date.now() > deadline) {
      check(false, `settled within 5 minutes (${behind.n} reducers behind, ${unsettled} effects unsettled)`);
      break;
    }
    await sleep(1_000);
  }
  log(`settled; RSS web ${pipet.web.rssMb().toFixed(0)} MiB, worker ${pipet.worker.rssMb().toFixed(0)} MiB`);

  for (const slug of slugs) {
    const stream = await db().stream.findUniqueOrThrow({ where: { id: streamIds[slug] } });
    const events = await db().event.findMany({ where: { streamId: stream.id }, orderBy: { index: 'asc' }, select: { index: true, body: true } });
    check(events.length === stream.length && events.every((e, i) => e.index === i), `${slug}: ${stream.length} events, dense`);
    const stored = new Map(events.map((e) => [e.index, (e.body as { id: string }).id]));
    const ids = new Set(events.map((e) => (e.body as { id: string }).id));
    check(ids.size === events.length, `${slug}: every event stored once`);
    check([...acked[slug]].every(([index, eventId]) => stored.get(index) === eventId), `${slug}: every acknowledged event at its acknowledged index`);
    const states = await db().reducerState.findMany({ where: { reducer: { streamId: stream.id } }, include: { reducer: { select: { name: true } } } });
    const count = states.find((s) => s.reducer.name === 'count')!;
    const fx = states.find((s) => s.reducer.name === 'effects')!;
    check(count.cursor === stream.length && count.state === stream.length, `${slug}: count folded ${count.cursor} of ${stream.length}, state ${count.state}`);
    check(fx.cursor === stream.length && JSON.stringify(fx.state) === JSON.stringify({ n: stream.length, sum: sums[slug] }), `${slug}: effects reducer state ${JSON.stringify(fx.state)}`);
    const webhooks = await db().effect.findMany({ where: { streamId: stream.id, kind: 'webhook' }, select: { id: true, status: true } });
    check(webhooks.length === Math.ceil(stream.length / 10), `${slug}: ${webhooks.length} webhooks recorded (one per 10 events)`);
    check(webhooks.every((w) => w.status === 'delivered' && (received.get(w.id) ?? 0) >= 1), `${slug}: every webhook delivered and received`);
    const emails = await db().effect.count({ where: { streamId: stream.id, kind: 'email', status: 'delivered' } });
    check(emails === Math.ceil(stream.length / 50), `${slug}: ${emails} emails delivered (one per 50 events)`);
  }
} catch (error) {
  failures.push(String(error));
  console.error(error);
} finally {
  await cleanup();
}
if (failures.length) {
  console.log(`\nsoak FAILED: ${failures.length} check(s)\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(`\nsoak passed in ${((Date.now() - began) / 60_000).toFixed(1)} min`);
process.exit(0);
