// `npm run bench:profile`: where the time goes on the hot path, to decide what to change.
// 1. Wire counts: web and worker reach PostgreSQL and Redis through counting proxies
//    (wire-count.ts); one client POSTs, then reads `state?after=`, one event at a time, so each
//    POST makes exactly one fold job — statements and commands per POST, per state read and per
//    fold job. Then the same at a steady 1,000 events/s, where wake-ups collapse.
// 2. CPU profiles: V8's profiler in web and worker (started and stopped by signal through
//    cpu-profile-hook.ts, preloaded with --import) over exactly the single-POST load (wrk, 16
//    connections) and the 1,000 events/s POST → state load; cpuprofile-top.ts sums self time.
// Everything lands in .test-builds/profiles/<run>/ (profiles and report.txt), kept after the run.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, sleep, summary } from './client.ts';
import { benchResources, buildPipet, ROOT, startPipet, type Pipet } from './stack.ts';
import { postLoad } from './http-load.ts';
import { openLoopPostToState } from './latency.ts';
import { makeFixtures } from './fixtures.ts';
import { addCounts, describeCounts, pgCountingProxy, redisCountingProxy, total, type Counts, type CountingProxy } from './wire-count.ts';
import { formatSummary, summarize } from './cpuprofile-top.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const began = performance.now();
const id = `prof${Date.now().toString(36)}`;
const outDir = join(ROOT, '.test-builds', 'profiles', id);
mkdirSync(outDir, { recursive: true });
const report: string[] = [];
const say = (s = '') => {
  report.push(s);
  console.log(s);
};
const log = (s: string) => process.stderr.write(`[profile +${((performance.now() - began) / 1000).toFixed(0)}s] ${s}\n`);

const resources = await benchResources(id);
const { databaseUrl, prefix, services, buildRoot } = resources;
Object.assign(process.env, { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: prefix, NODE_ENV: 'production' });
(await import('../../src/lib/server/env.ts')).resetEnv();

let pipet: Pipet | undefined;
const proxies: CountingProxy[] = [];
async function cleanup() {
  await pipet?.stop();
  await Promise.allSettled(proxies.map((p) => p.close()));
  const { closeAll } = await import('../../src/lib/server/shutdown.ts');
  await closeAll();
  await resources.cleanup();
}

let failed: unknown;
try {
  log('vite build');
  const buildDir = buildPipet(buildRoot);
  const fx = await makeFixtures({ counted: ['clicks', 'state', 'open', 'loaded'] });
  const env = { DATABASE_URL: databaseUrl, REDIS_URL: services.redisUrl, QUEUE_PREFIX: prefix };
  say(`Pipet profile ${new Date().toISOString()} — output in ${outDir}`);

  // ---- 1. wire counts ----
  log('wire counts: one client, POST then GET state?after, one event at a time');
  const [webPg, workerPg, webRedis, workerRedis] = await Promise.all([pgCountingProxy(databaseUrl), pgCountingProxy(databaseUrl), redisCountingProxy(services.redisUrl), redisCountingProxy(services.redisUrl)]);
  proxies.push(webPg, workerPg, webRedis, workerRedis);
  // No periodic sweep during the count (it would add its own statements); it runs once at start.
  pipet = await startPipet({
    buildDir,
    env: { ...env, SWEEP_INTERVAL_MS: '3600000' },
    webEnv: { DATABASE_URL: webPg.url, REDIS_URL: webRedis.url },
    workerEnv: { DATABASE_URL: workerPg.url, REDIS_URL: workerRedis.url },
  });
  const client = new Client(pipet.url, { authorization: fx.authorization });
  const statePath = `${fx.path('state')}/state/count`;
  for (let i = 0; i < 30; i++) {
    const index = await client.append(fx.path('state'), { i });
    await client.request('GET', `${statePath}?after=${index}`);
  }
  await sleep(500);
  const N = 200;
  const acc = { postPg: new Map(), postRedis: new Map(), getPg: new Map(), getRedis: new Map() } as Record<string, Counts>;
  for (const p of proxies) p.reset();
  for (let i = 0; i < N; i++) {
    webPg.reset();
    webRedis.reset();
    const index = await client.append(fx.path('state'), { i });
    addCounts(acc.postPg, webPg.counts());
    addCounts(acc.postRedis, webRedis.counts());
    webPg.reset();
    webRedis.reset();
    const r = await client.request('GET', `${statePath}?after=${index}`);
    if (r.status !== 200) throw new Error(`GET state: ${r.status}`);
    addCounts(acc.getPg, webPg.counts());
    addCounts(acc.getRedis, webRedis.counts());
    await sleep(30); // the fold job's tail (its last statements, completing the job) ends
  }
  await sleep(300);
  const foldPg = workerPg.counts();
  const foldRedis = workerRedis.counts();
  say(`\n## Wire counts, one event at a time (${N} events; each POST makes one fold job)`);
  say(`web, per POST: ${(total(acc.postPg) / N).toFixed(2)} PostgreSQL round trips, ${(total(acc.postRedis) / N).toFixed(2)} Redis commands`);
  for (const l of [...describeCounts(acc.postPg, N), ...describeCounts(acc.postRedis, N)]) say(l);
  say(`web, per GET state?after=i: ${(total(acc.getPg) / N).toFixed(2)} PostgreSQL round trips, ${(total(acc.getRedis) / N).toFixed(2)} Redis commands`);
  for (const l of [...describeCounts(acc.getPg, N), ...describeCounts(acc.getRedis, N)]) say(l);
  say(`worker, per fold job: ${(total(foldPg) / N).toFixed(2)} PostgreSQL round trips, ${(total(foldRedis) / N).toFixed(2)} Redis commands`);
  for (const l of [...describeCounts(foldPg, N), ...describeCounts(foldRedis, N)]) say(l);

  log('wire counts at a steady 1,000 events/s for 5 s');
  await sleep(500);
  for (const p of proxies) p.reset();
  const loaded = await openLoopPostToState({ base: pipet.url, headers: { authorization: fx.authorization }, path: fx.path('loaded'), statePath: `${fx.path('loaded')}/state/count`, rate: 1_000, seconds: 5 });
  await sleep(500);
  const appendKey = [...webPg.counts().keys()].find((k) => k.startsWith('SELECT pipet_append_events'));
  // Group commit: one append statement carries the POSTs that arrived together.
  const statements = appendKey ? webPg.counts().get(appendKey)! : NaN;
  const appends = loaded.ok;
  const jobs = workerRedis.counts().get('EVALSHA moveToFinished') ?? NaN;
  say(`\n## Wire counts at 1,000 events/s for 5 s (${loaded.sent} sent, ${appends} answered, in ${statements} append statements (${(appends / statements).toFixed(1)} events each, group commit), ${jobs} fold jobs completed, ${(appends / jobs).toFixed(1)} events per fold job; through the proxies, p50 ${summary(loaded.total).p50.toFixed(0)} ms)`);
  say(`web per appended event (its POST and its GET state?after): ${(total(webPg.counts()) / appends).toFixed(2)} PostgreSQL round trips, ${(total(webRedis.counts()) / appends).toFixed(2)} Redis commands`);
  for (const l of [...describeCounts(webPg.counts(), appends), ...describeCounts(webRedis.counts(), appends)].slice(0, 30)) say(l);
  say(`worker per fold job: ${(total(workerPg.counts()) / jobs).toFixed(2)} PostgreSQL round trips, ${(total(workerRedis.counts()) / jobs).toFixed(2)} Redis commands (ROLLBACK = a fold that lost the race to a concurrent job on the same stream)`);
  for (const l of [...describeCounts(workerPg.counts(), jobs), ...describeCounts(workerRedis.counts(), jobs)].slice(0, 30)) say(l);
  client.close();
  await pipet.stop();
  pipet = undefined;

  // ---- 2. CPU profiles ----
  const hook = join(import.meta.dirname, 'cpu-profile-hook.ts');
  const TITLES = { post: 'single POSTs, wrk 16 connections', state: 'POST → state at 1,000 events/s', catchup: 'a new reducer catching up on 300,000 events' };
  for (const load of ['post', 'state', 'catchup'] as const) {
    const dir = join(outDir, load);
    mkdirSync(dir, { recursive: true });
    log(`CPU profile: ${TITLES[load]}`);
    pipet = await startPipet({
      buildDir,
      env: { ...env, BENCH_PROFILE_DIR: dir },
      webEnv: { BENCH_PROFILE_NAME: 'web' },
      workerEnv: { BENCH_PROFILE_NAME: 'worker' },
      nodeFlags: ['--import', hook],
    });
    const procs = { web: pipet.web, worker: pipet.worker };
    const warm = new Client(pipet.url, { authorization: fx.authorization });
    for (let i = 0; i < 50; i++) await warm.append(fx.path(load === 'post' ? 'clicks' : 'open'), { i });
    let catchupStream = '';
    if (load === 'catchup') {
      // 300,000 events straight into "Event", as big-streams.ts loads its streams.
      const { db } = await import('../../src/lib/server/db/client.ts');
      const { ensureStream } = await import('../../src/lib/server/streams/ensure-stream.ts');
      catchupStream = (await ensureStream({ teamId: fx.teamId, slug: 'history', select: { id: true } })).id;
      await db().$executeRaw`INSERT INTO "Event" ("streamId", "index", body, "receivedAt")
        SELECT ${catchupStream}::uuid, g, jsonb_build_object('type', CASE WHEN g % 10 = 0 THEN 'foo' ELSE 'bar' END, 'n', g), now() FROM generate_series(0, 299999) AS g`;
      await db().$executeRaw`UPDATE "Stream" SET length = 300000 WHERE id = ${catchupStream}::uuid`;
    }
    await sleep(1_000);
    // SIGUSR2 starts the profiler in each process (cpu-profile-hook.ts); the next one writes the profile.
    for (const p of Object.values(procs)) p.child.kill('SIGUSR2');
    await sleep(200);
    const cpuFrom = { web: procs.web.cpuMs(), worker: procs.worker.cpuMs() };
    const t0 = performance.now();
    let figure: string;
    if (load === 'catchup') {
      const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
      const { FOOS } = await import('./big-streams.ts');
      await upsertReducer({ streamId: catchupStream, name: 'foos', code: FOOS, initialState: 0 });
      for (;;) {
        const r = await warm.request('GET', `${fx.path('history')}/state/foos?after=299999`);
        if (r.status === 200) break;
        if (r.status !== 503) throw new Error(`catch-up: ${r.status} ${r.body}`);
      }
      figure = `caught up in ${((performance.now() - t0) / 1000).toFixed(1)} s = ${(300_000 / ((performance.now() - t0) / 1000)).toFixed(0)} events/s under the profiler`;
    } else if (load === 'post') {
      const r = await postLoad({ url: `${pipet.url}${fx.path('clicks')}`, body: JSON.stringify({ type: 'click', user: 'u_1234', path: '/pricing' }), authorization: fx.authorization, connections: 16, seconds: SECONDS });
      figure = `${r.requestsPerS.toFixed(0)} POSTs/s under the profiler, ${r.errors} errors`;
    } else {
      const r = await openLoopPostToState({ base: pipet.url, headers: { authorization: fx.authorization }, path: fx.path('open'), statePath: `${fx.path('open')}/state/count`, rate: 1_000, seconds: SECONDS });
      const s = summary(r.total);
      figure = `POST → state p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms under the profiler (${r.ok}/${r.sent} ok, ${r.incomplete} cut off)`;
    }
    const cpuUsed = { web: procs.web.cpuMs() - cpuFrom.web, worker: procs.worker.cpuMs() - cpuFrom.worker };
    warm.close();
    const windowS = (performance.now() - t0) / 1000;
    for (const p of Object.values(procs)) p.child.kill('SIGUSR2');
    for (let i = 0; i < 600 && readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).length < 2; i++) await sleep(100);
    await pipet.stop();
    pipet = undefined;
    say(`\n## CPU profile: ${TITLES[load]} — ${figure}`);
    say(`(main threads only; the sandbox threads are not profiled. CPU actually used in the ${windowS.toFixed(1)} s window, all threads, from /proc: web ${(cpuUsed.web / 1000).toFixed(2)} s, worker ${(cpuUsed.worker / 1000).toFixed(2)} s. The profiler's "busy" is wall-clock: time a thread spends off-CPU inside a call, such as a socket write that wakes PostgreSQL and is preempted, counts there.)`);
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
      say(formatSummary(summarize(join(dir, file), 25), file.startsWith('web') ? `web main thread — ${file}` : `worker main thread — ${file}`));
    }
  }
} catch (error) {
  failed = error;
  console.error(error);
} finally {
  log('stopping and cleaning up');
  await cleanup();
  writeFileSync(join(outDir, 'report.txt'), `${report.join('\n')}\n`);
}
console.log(`\nreport: ${join(outDir, 'report.txt')} (${((performance.now() - began) / 1000).toFixed(0)} s)`);
process.exit(failed ? 1 : 0);
