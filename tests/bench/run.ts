// `npm run bench`: Pipet's hot path beside a bare floor and a peer, in one run; figures, never
// assertions. Starts Pipet's production build (web + worker) on a database and Redis prefix of its
// own, the bare node:http + pg floor server, and NATS JetStream; prints a table, then as its last
// line one JSON object. BENCH_ONLY=part,part runs some parts (sandbox, nats, post, latency,
// webhook, batch, big, keyed); BENCH_KEYED_KEYS (10⁶) and BENCH_KEYED_CATCHUP (10⁶ events) size the
// keyed part. Progress goes to stderr; the table and the JSON line to stdout.
import { cpus, loadavg, totalmem } from 'node:os';
import { closeSync, openSync, readSync } from 'node:fs';
import { Client, percentile, sleep, summary } from './client.ts';
import { benchResources, buildPipet, postgresCpuMs, startFloor, startPipet, type Pipet, type Proc } from './stack.ts';
import { loadTool, postLoad, type LoadResult } from './http-load.ts';
import { ackLatency, openLoopPostToState, postToState, postToWebhook, settle, webhookReceiver, webhookReducer } from './latency.ts';
import { benchNats, type NatsFigures } from './nats.ts';
import { benchSandbox } from './sandbox.ts';
import { benchBigStreams, type BigStreamFigures } from './big-streams.ts';
import { benchKeyed } from './keyed.ts';
import { makeFixtures } from './fixtures.ts';

const PARTS = ['sandbox', 'nats', 'post', 'latency', 'webhook', 'batch', 'big', 'keyed'] as const;
const only = process.env.BENCH_ONLY?.split(',').map((s) => s.trim()).filter(Boolean);
const runs = (part: (typeof PARTS)[number]) => !only || only.includes(part);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 1_000);

const log = (s: string) => process.stderr.write(`[bench +${((performance.now() - began) / 1000).toFixed(0)}s] ${s}\n`);
const fmt = (n: number | undefined, digits = 0) => (n === undefined || Number.isNaN(n) ? '—' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const round = (n: number, digits = 2) => (Number.isFinite(n) ? Math.round(n * 10 ** digits) / 10 ** digits : null);

const began = performance.now();
const startedAt = new Date();
const loadAtStart = loadavg()[0];
const id = `bench${Date.now().toString(36)}`;
const figures: Record<string, number | null> = {};
const rows: [string, string, string][] = [];
const row = (what: string, pipet: string, reference = '') => rows.push([what, pipet, reference]);

function cpuModel(): string {
  return `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'cpu'}, ${fmt(totalmem() / 2 ** 30, 0)} GiB`;
}

/** Loadavg-like: the share of the machine's CPU that was busy over `ms` (from /proc/stat). */
function cpuBusy(): () => number {
  const read = () => {
    try {
      const fd = openSync('/proc/stat', 'r');
      const buf = Buffer.alloc(256);
      readSync(fd, buf, 0, 256, 0);
      closeSync(fd);
      const f = buf.toString().split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
    } catch {
      return { idle: 0, total: 0 };
    }
  };
  const a = read();
  return () => {
    const b = read();
    return b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : NaN;
  };
}

const resources = await benchResources(id);
const { databaseUrl, prefix, services, buildRoot } = resources;
Object.assign(process.env, { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: prefix, NODE_ENV: 'production' });
const { resetEnv } = await import('../../src/lib/server/env.ts');
resetEnv();

let pipet: Pipet | undefined;
let floor: { url: string; proc: Proc } | undefined;
let cleaned = false;
async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  await Promise.allSettled([pipet?.stop(), floor?.proc.stop()]);
  const { closeAll } = await import('../../src/lib/server/shutdown.ts');
  await closeAll();
  await resources.cleanup();
}
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));

let failed: unknown;
try {
  log(`run ${id}: database ${new URL(databaseUrl).pathname.slice(1)}, Redis prefix ${prefix}`);
  if (runs('sandbox')) {
    log('sandbox fold throughput (in this process, before anything else runs)');
    const s = await benchSandbox();
    figures.fold_events_per_s = round(s.batched, 0);
    figures.fold_events_per_s_one_per_call = round(s.perEvent, 0);
    figures.reducer_start_us = round(s.startupUs, 0);
    figures.keyed_sandbox_keyby_events_per_s = round(s.keyBy, 0);
    figures.keyed_sandbox_fold_events_per_s = round(s.keyed, 0);
  }
  let nats: NatsFigures | undefined;
  if (runs('nats')) {
    log('NATS JetStream publish → durable consumer');
    nats = await benchNats({ id });
    figures.nats_p50_ms = round(nats.publishToConsumer.p50, 3);
    figures.nats_p99_ms = round(nats.publishToConsumer.p99, 3);
    figures.nats_publish_ack_p50_ms = round(nats.publishAck.p50, 3);
  }

  log('vite build (production) into a folder of its own');
  const buildDir = buildPipet(buildRoot);

  const receiver = await webhookReceiver();
  const fx = await makeFixtures({
    counted: ['clicks', 'acks', 'state', 'open', 'batch'],
    plain: ['plain', 'floor'],
    reducers: { hooks: { name: 'hook', code: webhookReducer(receiver.url) } },
  });
  const { authorization, streams, path } = fx;

  log('starting Pipet (web + worker, NODE_ENV=production) and the floor server');
  [pipet, floor] = await Promise.all([
    startPipet({ buildDir, env: { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: prefix } }),
    startFloor({ databaseUrl, streamId: streams.floor }),
  ]);
  const client = new Client(pipet.url, { authorization });
  await client.append(path('clicks'), { type: 'warm' });
  const rssBefore = { web: pipet.web.rssMb(), worker: pipet.worker.rssMb() };
  const busy: Record<string, number> = {};

  if (runs('post')) {
    const body = JSON.stringify({ type: 'click', user: 'u_1234', path: '/pricing' });
    log(`single POSTs: ${loadTool()}, 16 connections, 3 s warm-up then ${SECONDS} s each (floor, then Pipet)`);
    await postLoad({ url: floor.url, body, connections: 16, seconds: 3 });
    let cpu = cpuBusy();
    let floorCpu = floor.proc.cpuMs();
    const floorLoad = await postLoad({ url: floor.url, body, connections: 16, seconds: SECONDS });
    floorCpu = floor.proc.cpuMs() - floorCpu;
    busy.floor = cpu();
    await postLoad({ url: `${pipet.url}${path('clicks')}`, body, authorization, connections: 16, seconds: 3 });
    cpu = cpuBusy();
    // CPU each process spends per POST: steadier than rates on a shared machine.
    const cpuAt = { web: pipet.web.cpuMs(), worker: pipet.worker.cpuMs(), postgres: postgresCpuMs() };
    const single = await postLoad({ url: `${pipet.url}${path('clicks')}`, body, authorization, connections: 16, seconds: SECONDS });
    const cpuPer = { web: (pipet.web.cpuMs() - cpuAt.web) / single.requests, worker: (pipet.worker.cpuMs() - cpuAt.worker) / single.requests, postgres: (postgresCpuMs() - cpuAt.postgres) / single.requests, floor: floorCpu / floorLoad.requests };
    busy.single = cpu();
    await sleep(1_000);
    const plain = await postLoad({ url: `${pipet.url}${path('plain')}`, body, authorization, connections: 16, seconds: SECONDS });
    const loadCell = (l: LoadResult) => `${fmt(l.requestsPerS)}/s (p50 ${fmt(l.p50Ms, 1)} ms, p99 ${fmt(l.p99Ms, 1)} ms${l.errors ? `, ${fmt(l.errors)} errors` : ''})`;
    row('single-event POSTs/s, keep-alive, 16 connections (stream with a counter reducer)', loadCell(single), `floor ${loadCell(floorLoad)}; Pipet/floor ${fmt(single.requestsPerS / floorLoad.requestsPerS, 2)}`);
    row('… the same on a stream without reducers', loadCell(plain), '');
    row('CPU per POST under that load: web / worker / PostgreSQL, ms', `${fmt(cpuPer.web, 2)} / ${fmt(cpuPer.worker, 2)} / ${fmt(cpuPer.postgres, 2)}`, `floor ${fmt(cpuPer.floor, 2)} (its own process)`);
    figures.postgres_cpu_ms_per_post = round(cpuPer.postgres, 3);
    figures.web_cpu_ms_per_post = round(cpuPer.web, 3);
    figures.worker_cpu_ms_per_post = round(cpuPer.worker, 3);
    figures.floor_cpu_ms_per_post = round(cpuPer.floor, 3);
    figures.single_posts_per_s = round(single.requestsPerS, 0);
    figures.single_posts_errors = single.errors;
    figures.single_posts_no_reducer_per_s = round(plain.requestsPerS, 0);
    figures.floor_posts_per_s = round(floorLoad.requestsPerS, 0);
    figures.pipet_vs_floor_posts_ratio = round(single.requestsPerS / floorLoad.requestsPerS, 3);
    figures.cpu_busy_single_posts = round(busy.single, 2);
    figures.cpu_busy_floor_posts = round(busy.floor, 2);

    log('POST acknowledged, one client (Pipet, then the floor)');
    await sleep(2_000); // let the folds of the load drain
    const ack = summary(await ackLatency({ client, path: path('acks'), count: 1_000 }));
    const floorClient = new Client(floor.url);
    const floorAck = summary(await ackLatency({ client: floorClient, path: '/', count: 1_000 }));
    floorClient.close();
    row('POST acknowledged (201), one client, p50 / p99 ms', `${fmt(ack.p50, 2)} / ${fmt(ack.p99, 2)} (n ${ack.n})`, `floor ${fmt(floorAck.p50, 2)} / ${fmt(floorAck.p99, 2)} (n ${floorAck.n})`);
    figures.post_ack_p50_ms = round(ack.p50, 3);
    figures.post_ack_p99_ms = round(ack.p99, 3);
    figures.floor_ack_p50_ms = round(floorAck.p50, 3);
    figures.floor_ack_p99_ms = round(floorAck.p99, 3);
  }

  if (runs('latency')) {
    log('POST → state visible, one client');
    const one = await postToState({ client, path: path('state'), statePath: `${path('state')}/state/count`, count: 1_000 });
    const t = summary(one.total);
    const natsCell = nats ? `NATS JetStream publish → durable consumer ${fmt(nats.publishToConsumer.p50, 2)} / ${fmt(nats.publishToConsumer.p99, 2)} (n ${nats.publishToConsumer.n}); Pipet/NATS p50 ${fmt(t.p50 / nats.publishToConsumer.p50, 1)}×` : '';
    row('POST → state visible (GET state?after=i), one client, p50 / p99 ms', `${fmt(t.p50, 2)} / ${fmt(t.p99, 2)} (n ${t.n})`, natsCell);
    figures.post_to_state_p50_ms = round(t.p50, 3);
    figures.post_to_state_p99_ms = round(t.p99, 3);
    figures.post_to_state_ack_p50_ms = round(percentile(one.ack, 50), 3);
    if (nats) figures.pipet_vs_nats_p50_ratio = round(t.p50 / nats.publishToConsumer.p50, 2);

    log(`POST → state visible, open loop at ${RATE}/s for ${SECONDS} s`);
    await sleep(1_000);
    const cpu = cpuBusy();
    // Who used the two cores: the harness (the load generator, this process), web, worker, PostgreSQL.
    const share = () => ({ harness: process.cpuUsage(), web: pipet!.web.cpuMs(), worker: pipet!.worker.cpuMs(), postgres: postgresCpuMs(), at: performance.now() });
    const before = share();
    const open = await openLoopPostToState({ base: pipet.url, headers: { authorization }, path: path('open'), statePath: `${path('open')}/state/count`, rate: RATE, seconds: SECONDS });
    busy.open = cpu();
    const after = share();
    const wallMs = after.at - before.at;
    const harnessCpu = process.cpuUsage(before.harness);
    const cores = { harness: (harnessCpu.user + harnessCpu.system) / 1000 / wallMs, web: (after.web - before.web) / wallMs, worker: (after.worker - before.worker) / wallMs, postgres: (after.postgres - before.postgres) / wallMs };
    const o = summary(open.total);
    const oa = summary(open.ack);
    row(
      `POST → state visible at a steady ${fmt(RATE)} events/s (open loop), p50 / p99 ms`,
      `${fmt(o.p50, 1)} / ${fmt(o.p99, 1)} (of which POST 201: ${fmt(oa.p50, 1)} / ${fmt(oa.p99, 1)})`,
      `${fmt(open.ok)} of ${fmt(open.sent)} ok${open.incomplete ? `, ${fmt(open.incomplete)} cut off unanswered 20 s after the last send (counted at their wait so far)` : ''}${open.errors ? `, ${fmt(open.errors)} errors (${open.firstError})` : ''}; sender lag max ${fmt(open.maxSendLagMs, 1)} ms; CPU ${fmt(busy.open * 100)}% busy`,
    );
    row(`… cores in use during it: load generator / web / worker / PostgreSQL`, `${fmt(cores.harness, 2)} / ${fmt(cores.web, 2)} / ${fmt(cores.worker, 2)} / ${fmt(cores.postgres, 2)}`, '(Redis not counted)');
    for (const [who, n] of Object.entries(cores)) figures[`cores_1k_${who}`] = round(n, 2);
    figures.post_to_state_1k_p50_ms = round(o.p50, 2);
    figures.post_to_state_1k_p99_ms = round(o.p99, 2);
    figures.post_to_state_1k_ack_p50_ms = round(oa.p50, 2);
    figures.post_to_state_1k_ack_p99_ms = round(oa.p99, 2);
    figures.post_to_state_1k_errors = open.errors;
    figures.post_to_state_1k_incomplete = open.incomplete;
    await settle({ client, path: path('open'), statePath: `${path('open')}/state/count` });
    figures.cpu_busy_1k = round(busy.open, 2);
  }

  if (runs('webhook')) {
    log('POST → webhook arrives, one client');
    await sleep(2_000);
    const w = summary(await postToWebhook({ client, path: path('hooks'), receiver, count: 300 }));
    row('POST → reducer request() webhook arrives on loopback, one client, p50 / p99 ms', `${fmt(w.p50, 2)} / ${fmt(w.p99, 2)} (n ${w.n})`, '');
    figures.post_to_webhook_p50_ms = round(w.p50, 3);
    figures.post_to_webhook_p99_ms = round(w.p99, 3);
  }
  await receiver.close();

  if (runs('batch')) {
    log(`batches of 100 events: 8 connections, ${SECONDS} s`);
    const body = JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ type: 'click', user: `u_${i}`, path: '/pricing' })));
    await postLoad({ url: `${pipet.url}${path('batch')}/batch`, body, authorization, connections: 8, seconds: 2 });
    const cpuAt = { web: pipet.web.cpuMs(), worker: pipet.worker.cpuMs(), postgres: postgresCpuMs() };
    const b = await postLoad({ url: `${pipet.url}${path('batch')}/batch`, body, authorization, connections: 8, seconds: SECONDS });
    const events = b.requests * 100;
    const usPerEvent = { web: ((pipet.web.cpuMs() - cpuAt.web) * 1000) / events, worker: ((pipet.worker.cpuMs() - cpuAt.worker) * 1000) / events, postgres: ((postgresCpuMs() - cpuAt.postgres) * 1000) / events };
    row('batches of 100 events (POST /batch), 8 connections', `${fmt(b.requestsPerS * 100)} events/s (${fmt(b.requestsPerS)} batches/s, p50 ${fmt(b.p50Ms, 1)} ms)`, b.errors ? `${fmt(b.errors)} errors` : '');
    row('CPU per batched event: web / worker / PostgreSQL, µs', `${fmt(usPerEvent.web, 1)} / ${fmt(usPerEvent.worker, 1)} / ${fmt(usPerEvent.postgres, 1)}`, '');
    figures.batch_web_cpu_us_per_event = round(usPerEvent.web, 2);
    figures.batch_worker_cpu_us_per_event = round(usPerEvent.worker, 2);
    figures.batch_postgres_cpu_us_per_event = round(usPerEvent.postgres, 2);
    figures.batch_events_per_s = round(b.requestsPerS * 100, 0);
    figures.batch_errors = b.errors;
  }

  if (runs('big')) {
    log('10³- and 10⁶-event streams: load, catch up a new reducer, fold one more event');
    const { db } = await import('../../src/lib/server/db/client.ts');
    const cpuNow = () => ({ worker: pipet!.worker.cpuMs(), postgres: postgresCpuMs() });
    const big: BigStreamFigures = await benchBigStreams({ db: db(), teamId: fx.teamId, teamSlug: fx.teamSlug, client, log, cpuNow });
    const sandboxRef = figures.fold_events_per_s ? `sandbox alone ${fmt(figures.fold_events_per_s)} events/s` : '';
    row(`a new reducer catching up on 1,000,000 events (read, fold, commit)`, `${fmt(big.catchupEventsPerS)} events/s (${fmt(big.catchupS, 1)} s)`, sandboxRef);
    const ratio = big.foldMs[1_000_000] / big.foldMs[1_000];
    row('fold one more event (foldStream), 10³ / 10⁶ events, median ms', `${fmt(big.foldMs[1_000], 2)} / ${fmt(big.foldMs[1_000_000], 2)} (ratio ${fmt(ratio, 2)})`, `SELECT count(*) ${fmt(big.countMs[1_000], 2)} / ${fmt(big.countMs[1_000_000], 1)} ms`);
    row('read the reducer state on 10⁶ events: SQL / HTTP GET, median ms', `${fmt(big.readStateMs[1_000_000], 2)} / ${fmt(big.readStateHttpMs[1_000_000], 2)}`, `(10³: ${fmt(big.readStateMs[1_000], 2)} / ${fmt(big.readStateHttpMs[1_000], 2)})`);
    row('state as of a random event (GET state?at=i, time travel), 10³ / 10⁶ events, median ms', `${fmt(big.atMs[1_000], 2)} / ${fmt(big.atMs[1_000_000], 2)} (ratio ${fmt(big.atMs[1_000_000] / big.atMs[1_000], 2)})`, 'from the nearest snapshot (every 1,000 events)');
    figures.at_ms_1e3 = round(big.atMs[1_000], 3);
    figures.at_ms_1e6 = round(big.atMs[1_000_000], 3);
    figures.at_cost_ratio_1e6_vs_1e3 = round(big.atMs[1_000_000] / big.atMs[1_000], 3);
    figures.catchup_events_per_s = round(big.catchupEventsPerS, 0);
    row('CPU per event caught up: worker (main + sandbox threads) / PostgreSQL, µs', `${fmt(big.catchupCpuUs.worker, 1)} / ${fmt(big.catchupCpuUs.postgres, 1)}`, '');
    figures.catchup_worker_cpu_us_per_event = round(big.catchupCpuUs.worker, 2);
    figures.catchup_postgres_cpu_us_per_event = round(big.catchupCpuUs.postgres, 2);
    figures.fold_cost_ms_1e3 = round(big.foldMs[1_000], 3);
    figures.fold_cost_ms_1e6 = round(big.foldMs[1_000_000], 3);
    figures.fold_cost_ratio_1e6_vs_1e3 = round(ratio, 3);
    figures.fold_cost_discarded_samples = big.discarded;
    figures.sql_count_ms_1e3 = round(big.countMs[1_000], 3);
    figures.sql_count_ms_1e6 = round(big.countMs[1_000_000], 2);
    figures.reducer_ms_1e3 = round(big.readStateMs[1_000], 3);
    figures.reducer_ms_1e6 = round(big.readStateMs[1_000_000], 3);
    figures.reducer_http_ms_1e6 = round(big.readStateHttpMs[1_000_000], 3);
    figures.insert_1e6_s = round(big.insertS[1_000_000], 1);
  }
  if (runs('keyed')) {
    const keys = Number(process.env.BENCH_KEYED_KEYS ?? 1_000_000);
    const catchupEvents = Number(process.env.BENCH_KEYED_CATCHUP ?? keys);
    const n = (k: number) => k.toLocaleString('en-US');
    log(`keyed reducers: ${n(keys)} keys stored, a catch-up on ${n(catchupEvents)} events over ${n(catchupEvents / 10)} keys, one more event, reads`);
    const { db } = await import('../../src/lib/server/db/client.ts');
    const cpuNow = () => ({ worker: pipet!.worker.cpuMs(), postgres: postgresCpuMs() });
    const k = await benchKeyed({ db: db(), teamId: fx.teamId, teamSlug: fx.teamSlug, client, floorUrl: floor.url, log, cpuNow, keys, catchupEvents });
    const rate = k.catchupFolded / k.catchupS;
    const references = [
      figures.catchup_events_per_s ? `unkeyed (above) ${fmt(figures.catchup_events_per_s)} events/s` : '',
      figures.keyed_sandbox_fold_events_per_s ? `sandbox alone: keyBy ${fmt(figures.keyed_sandbox_keyby_events_per_s ?? NaN)}/s, keyed fold ${fmt(figures.keyed_sandbox_fold_events_per_s)}/s, unkeyed counter ${fmt(figures.fold_events_per_s ?? NaN)}/s` : '',
    ];
    const unkeyed = references.filter(Boolean).join('; ');
    const cut = k.catchupComplete ? `(${fmt(k.catchupS, 1)} s)` : `(CUT OFF after ${fmt(k.catchupS, 0)} s: ${n(k.catchupFolded)} folded)`;
    row(`keyed: a new reducer catching up on ${n(k.catchupEvents)} events over ${n(k.catchupKeys)} keys (keyBy, read keys, fold, commit every change)`, `${fmt(rate)} events/s ${cut}`, unkeyed);
    row('… CPU per event caught up: worker (main + sandbox threads) / PostgreSQL, µs', `${fmt(k.catchupCpuUs.worker, 1)} / ${fmt(k.catchupCpuUs.postgres, 1)}`, figures.catchup_worker_cpu_us_per_event ? `unkeyed ${fmt(figures.catchup_worker_cpu_us_per_event, 1)} / ${fmt(figures.catchup_postgres_cpu_us_per_event ?? NaN, 1)}` : '');
    const ratio = k.foldMs.big / k.foldMs.small;
    row(`keyed: fold one more event on a stored key (foldStream), 10³ / ${n(k.keys)} keys stored, median ms`, `${fmt(k.foldMs.small, 2)} / ${fmt(k.foldMs.big, 2)} (ratio ${fmt(ratio, 2)})`, `unkeyed counter ${fmt(k.foldMs.plain, 2)} ms`);
    row(`… a batch of 10 events on stored keys, 10³ / ${n(k.keys)} keys, median ms`, `${fmt(k.batchFoldMs.small, 2)} / ${fmt(k.batchFoldMs.big, 2)} (ratio ${fmt(k.batchFoldMs.big / k.batchFoldMs.small, 2)})`, `unkeyed counter ${fmt(k.batchFoldMs.plain, 2)} ms`);
    const floorRead = k.read.floor ? `floor (node:http + pg, the same lookup) ${fmt(k.read.floor.p50, 2)} / ${fmt(k.read.floor.p99, 2)}; ` : '';
    row(`keyed: GET one key among ${n(k.keys)} (…/state/{reducer}/{key}), one client, p50 / p99 ms`, `${fmt(k.read.key.p50, 2)} / ${fmt(k.read.key.p99, 2)} (n ${k.read.key.n})`, `${floorRead}unkeyed GET state ${fmt(k.read.plain.p50, 2)} / ${fmt(k.read.plain.p99, 2)}`);
    row(`keyed: one key's state as of a random event (…/{key}?at=i), ${n(k.at.events)}-event history, p50 / p99 ms`, `${fmt(k.at.http.p50, 2)} / ${fmt(k.at.http.p99, 2)}`, `keyAt in SQL ${fmt(k.at.sql.p50, 2)}; the key's current state ${fmt(k.at.current.p50, 2)}${figures.at_ms_1e6 ? `; unkeyed ?at= (median, above) ${fmt(figures.at_ms_1e6, 2)}` : ''}`);
    row(`keyed: storage per key (KeyedState + KeyedChange with indexes), ${n(k.keys)} keys, one change each, bytes`, `${fmt(k.bytesPerKey.total)} (state ${fmt(k.bytesPerKey.state)}, history ${fmt(k.bytesPerKey.change)})`, `catch-up history: ${fmt(k.bytesPerChange)} bytes per change`);
    figures.keyed_keys = k.keys;
    figures.keyed_catchup_events = k.catchupEvents;
    figures.keyed_catchup_events_per_s = round(rate, 0);
    figures.keyed_catchup_complete = k.catchupComplete ? 1 : 0;
    figures.keyed_catchup_worker_cpu_us_per_event = round(k.catchupCpuUs.worker, 2);
    figures.keyed_catchup_postgres_cpu_us_per_event = round(k.catchupCpuUs.postgres, 2);
    figures.keyed_seed_s = round(k.seedS, 1);
    figures.keyed_fold_cost_ms_1e3_keys = round(k.foldMs.small, 3);
    figures.keyed_fold_cost_ms_1e6_keys = round(k.foldMs.big, 3);
    figures.keyed_fold_cost_ratio_1e6_vs_1e3_keys = round(ratio, 3);
    figures.keyed_fold_cost_ms_unkeyed = round(k.foldMs.plain, 3);
    figures.keyed_fold10_cost_ratio_1e6_vs_1e3_keys = round(k.batchFoldMs.big / k.batchFoldMs.small, 3);
    figures.keyed_fold_cost_discarded_samples = k.discarded;
    figures.keyed_state_read_p50_ms = round(k.read.key.p50, 3);
    figures.keyed_state_read_p99_ms = round(k.read.key.p99, 3);
    figures.keyed_floor_read_p50_ms = k.read.floor ? round(k.read.floor.p50, 3) : null;
    figures.keyed_unkeyed_read_p50_ms = round(k.read.plain.p50, 3);
    figures.keyed_at_ms_1e6 = round(k.at.http.p50, 3);
    figures.keyed_at_p99_ms_1e6 = round(k.at.http.p99, 3);
    figures.keyed_at_sql_ms_1e6 = round(k.at.sql.p50, 3);
    figures.keyed_bytes_per_key = round(k.bytesPerKey.total, 0);
    figures.keyed_bytes_per_change = round(k.bytesPerChange, 0);
  }
  if (runs('sandbox')) {
    row('sandbox fold (QuickJS/Wasm, one thread), counter, 1,000 events per call', `${fmt(figures.fold_events_per_s ?? NaN)} events/s`, `one event per call: ${fmt(figures.fold_events_per_s_one_per_call ?? NaN)}/s; reducer start ${fmt(figures.reducer_start_us ?? NaN)} µs; keyed (1,000 keys per call): keyBy ${fmt(figures.keyed_sandbox_keyby_events_per_s ?? NaN)}/s, fold into the keys' states ${fmt(figures.keyed_sandbox_fold_events_per_s ?? NaN)}/s`);
  }
  await sleep(1_000);
  const rssAfter = { web: pipet.web.rssMb(), worker: pipet.worker.rssMb() };
  row('web RSS before → after all the loads above, MiB', `${fmt(rssBefore.web)} → ${fmt(rssAfter.web)}`, '');
  row('worker RSS (incl. sandbox threads) before → after, MiB', `${fmt(rssBefore.worker)} → ${fmt(rssAfter.worker)}`, '');
  figures.web_rss_before_mb = round(rssBefore.web, 1);
  figures.web_rss_mb = round(rssAfter.web, 1);
  figures.worker_rss_before_mb = round(rssBefore.worker, 1);
  figures.worker_rss_mb = round(rssAfter.worker, 1);

  client.close();
} catch (error) {
  failed = error;
} finally {
  log('stopping and cleaning up');
  await cleanup();
}

const seconds = (performance.now() - began) / 1000;
figures.run_seconds = round(seconds, 0);
// Other work on the machine shows here: every figure above shares the cores with it.
figures.loadavg_1m_start = round(loadAtStart, 2);
figures.loadavg_1m_end = round(loadavg()[0], 2);
const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length), 10));
console.log(`\nPipet benchmark — ${startedAt.toISOString()} — ${cpuModel()}, Node ${process.version}, load: ${loadTool()}; run took ${fmt(seconds)} s; load average ${fmt(loadAtStart, 1)} at the start, ${fmt(loadavg()[0], 1)} at the end`);
console.log(`| ${'figure'.padEnd(widths[0])} | ${'Pipet'.padEnd(widths[1])} | ${'beside it, same run'.padEnd(widths[2])} |`);
console.log(`| ${'-'.repeat(widths[0])} | ${'-'.repeat(widths[1])} | ${'-'.repeat(widths[2])} |`);
for (const r of rows) console.log(`| ${r[0].padEnd(widths[0])} | ${r[1].padEnd(widths[1])} | ${r[2].padEnd(widths[2])} |`);
if (failed) console.log(`\nThe run stopped early: ${(failed as Error).stack ?? failed}`);
console.log(JSON.stringify(figures));
process.exit(failed ? 1 : 0);
