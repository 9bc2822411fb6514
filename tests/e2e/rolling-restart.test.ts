// Several web processes behind one port (issue 10), restarted one at a time on SIGHUP while a load
// generator appends and SSE clients tail (issue 14): nothing acknowledged is lost, no client sees a
// 5xx, and every SSE client resumes from Last-Event-ID with no gap and no duplicate.
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { makeTeam, useOwnDatabase, makeStream } from '../helpers/context.ts';
import { startCli, waitForOutput, type Running } from '../helpers/server.ts';
import { bearer } from '../helpers/http.ts';
import { tailSse, type SseTail } from '../helpers/sse.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

const own = await useOwnDatabase('rolling');
const { db } = await import('../../src/lib/server/db/client.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');

const running: Running[] = [];
const tails: SseTail[] = [];
afterAll(async () => {
  await Promise.all(tails.map((t) => t.close()));
  await Promise.all(running.map((r) => r.kill()));
});

async function startCluster(processes: number): Promise<{ web: Running; pids: number[] }> {
  const web = await startCli(['web'], { ...own.env, PORT: String(await freePort()), WEB_PROCESSES: String(processes) }, /Pipet web listening on .* processes \(([\d, ]+)\)/);
  running.push(web);
  const pids = /processes \(([\d, ]+)\)/.exec(web.output())![1].split(', ').map(Number);
  return { web, pids };
}

/** Established TCP connections that process `pid` holds on local port `port` (Linux /proc). */
function connectionsHeld(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      /* closed meanwhile */
    }
  }
  let held = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && parseInt(f[1].split(':')[1], 16) === port && f[3] === '01' && inodes.has(f[9])) held++;
    }
  }
  return held;
}

const isHttp5xx = (status: number) => status >= 500 && status < 600;

describe('WEB_PROCESSES=2', () => {
  it('serves one port from two processes', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    await makeStream(db(), { teamId: team.id, slug: 'spread', name: 'spread' });
    const { web, pids } = await startCluster(2);
    expect(pids).toHaveLength(2);
    const port = Number(new URL(web.url).port);
    const url = `${web.url}/s/${team.slug}/spread/events`;
    for (let i = 0; i < 6; i++) tails.push(tailSse(url, { headers: bearer(key) }));
    const deadline = Date.now() + 20_000;
    let held = pids.map((pid) => connectionsHeld(pid, port));
    while (held.some((n) => n === 0) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      held = pids.map((pid) => connectionsHeld(pid, port));
    }
    console.log(`6 SSE connections on port ${port}: ${pids.map((pid, i) => `process ${pid} holds ${held[i]}`).join(', ')}`);
    expect(held.every((n) => n > 0), `connections held: ${held}`).toBe(true);
    await Promise.all(tails.splice(0).map((t) => t.close()));
    await web.stop();
  }, 60_000);

  it('restarts them one after the other under load: nothing lost, no 5xx, SSE resumes with no gap and no duplicate', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const { web, pids: firstPids } = await startCluster(2);
    const stream = `${web.url}/s/${team.slug}/load`;
    const started = Date.now();

    // The load generator: each append has an Idempotency-Key, so a request whose connection was
    // reset can be sent again without appending twice.
    const CLIENTS = 4;
    const acked = new Map<string, number>();
    const serverErrors: string[] = [];
    let resets = 0;
    let replays = 0;
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const id = `${c}-${i}`;
        for (let attempt = 0; ; attempt++) {
          if (attempt > 50) throw new Error(`append ${id} failed 50 times`);
          let res: Response;
          try {
            res = await fetch(stream, { method: 'POST', headers: { ...bearer(key), 'content-type': 'application/json', 'idempotency-key': id }, body: JSON.stringify({ id }) });
          } catch {
            resets++;
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          const text = await res.text();
          if (isHttp5xx(res.status)) serverErrors.push(`${res.status} ${text}`);
          if (res.status !== 201 && res.status !== 200) throw new Error(`append ${id}: ${res.status} ${text}`);
          if (res.status === 200) replays++;
          acked.set(id, JSON.parse(text).index);
          break;
        }
      }
    };
    const load = Array.from({ length: CLIENTS }, (_, c) => client(c));
    const SSE_CLIENTS = 3;
    for (let i = 0; i < SSE_CLIENTS; i++) tails.push(tailSse(`${stream}/events?from=0`, { headers: bearer(key) }));
    const waitAcked = async (n: number) => {
      while (acked.size < n) await new Promise((r) => setTimeout(r, 20));
    };

    // Two rolling restarts: four web processes replaced, one at a time, while the load runs.
    await waitAcked(100);
    let mark = web.output().length;
    web.child.kill('SIGHUP');
    const first = await waitForOutput(web, /rolling restart done: web processes ([\d, ]+)\./, { from: mark, timeoutMs: 60_000 });
    await waitAcked(acked.size + 100);
    mark = web.output().length;
    web.child.kill('SIGHUP');
    const second = await waitForOutput(web, /rolling restart done: web processes ([\d, ]+)\./, { from: mark, timeoutMs: 60_000 });
    await waitAcked(acked.size + 100);
    stop = true;
    await Promise.all(load);
    const seconds = (Date.now() - started) / 1000;

    const middlePids = first[1].split(', ').map(Number);
    const lastPids = second[1].split(', ').map(Number);
    expect(new Set([...firstPids, ...middlePids, ...lastPids]).size, web.output()).toBe(6);

    // Zero acknowledged events lost, none appended twice, indices dense.
    const row = await db().stream.findFirstOrThrow({ where: { teamId: team.id, slug: 'load' } });
    const stored = await readEvents({ streamId: row.id, start: 0, end: row.length });
    expect(stored.map((e) => e.index)).toEqual(Array.from({ length: row.length }, (_, i) => i));
    const storedIds = stored.map((e) => (JSON.parse(e.bodyJson) as { id: string }).id);
    expect(new Set(storedIds).size).toBe(storedIds.length);
    for (const [id, index] of acked) expect(storedIds[index], id).toBe(id);
    expect(storedIds.length).toBe(acked.size);

    // No 5xx; the connection resets are few, and every client rode them out.
    expect(serverErrors).toEqual([]);
    expect(resets).toBeLessThanOrEqual(CLIENTS * 4 * 2);

    // Every SSE client saw every event exactly once, in order, across its reconnections.
    for (const tail of tails) await tail.waitFor((events) => events.length >= row.length, 30_000);
    for (const tail of tails) {
      expect(tail.events.map((e) => Number(e.id))).toEqual(Array.from({ length: row.length }, (_, i) => i));
      expect(tail.events.map((e) => (JSON.parse(e.data) as { body: { id: string } }).body.id)).toEqual(storedIds);
      expect(tail.statuses.filter(isHttp5xx)).toEqual([]);
      expect(tail.restartHints).toBeGreaterThan(0);
    }

    const figures = {
      'web processes replaced': 4,
      'appends acknowledged': acked.size,
      'appends/s': Math.round(acked.size / seconds),
      'acknowledged appends lost': acked.size - storedIds.filter((id) => acked.has(id)).length,
      'appended twice': storedIds.length - new Set(storedIds).size,
      '5xx answers': serverErrors.length,
      'connection resets ridden out (retried with the same Idempotency-Key)': resets,
      'retries answered from the idempotency record': replays,
      'SSE clients': tails.length,
      'SSE reconnections': tails.map((t) => t.reconnects).join(', '),
      'SSE events received per client': tails.map((t) => t.events.length).join(', '),
      'SSE gaps / duplicates': 0,
      'longest SSE reconnection (ms)': Math.max(...tails.map((t) => t.longestGapMs)),
      'SSE connection errors': tails.map((t) => t.errors.length).join(', '),
    };
    const replacements = web.output().split('\n').filter((line) => /replaced by/.test(line));
    console.log(`Rolling restart under load (${seconds.toFixed(1)} s):\n${Object.entries(figures).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n${replacements.join('\n')}`);
    await Promise.all(tails.splice(0).map((t) => t.close()));
    await web.stop();
  }, 180_000);
});
