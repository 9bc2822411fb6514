// `pipet push | tail | state | export | import` against a real web process, run as a user would:
// export | import round-trips a stream, a rerun after a killed import appends nothing twice, and
// the import shows a progress bar with rate and ETA, then a summary.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeStream, makeTeam, useOwnDatabase, type TeamFixture } from '../helpers/context.ts';
import { ROOT, startWeb, startWorkerProcess, type Running } from '../helpers/server.ts';
import { Pipet } from '../../src/client/index.ts';

const own = await useOwnDatabase('clidata');
const { db } = await import('../../src/lib/server/db/client.ts');
const { appendEvents } = await import('../../src/lib/server/streams/append-events.ts');
const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');

const SOURCE_EVENTS = 5000;
let web: Running;
let worker: Running;
let team: TeamFixture;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  web = await startWeb({ ...own.env, KEY_RATE_LIMIT_PER_MINUTE: '1000000', ACCOUNT_RATE_LIMIT_PER_MINUTE: '1000000' });
  worker = startWorkerProcess({ ...own.env, SWEEP_INTERVAL_MS: '1000' });
  team = await makeTeam(db());
  env = { PIPET_URL: web.url, PIPET_KEY: await team.key(['ingest', 'read']), PIPET_PROFILE: '/nonexistent/profile.json' };
  const source = await makeStream(db(), { teamId: team.id, slug: 'source', name: 'source' });
  for (let i = 0; i < SOURCE_EVENTS; i += 1000) {
    await appendEvents({ streamId: source.id, bodies: Array.from({ length: 1000 }, (_, k) => ({ n: i + k, user: `u${(i + k) % 7}`, tags: ['a', { deep: [i + k] }] })) });
  }
  const counted = await makeStream(db(), { teamId: team.id, slug: 'counted', name: 'counted' });
  await upsertReducer({ streamId: counted.id, name: 'count', code: '(n) => n + 1', initialState: 0 });
  dir = mkdtempSync(join(tmpdir(), 'pipet-cli-data-'));
}, 120_000);
afterAll(async () => {
  await worker?.stop();
  await web?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const main = join(ROOT, 'src/cli/main.ts');

function pipet(args: string[], { input, extraEnv = {} }: { input?: string; extraEnv?: Record<string, string> } = {}) {
  const result = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', main, ...args], { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv }, input, encoding: 'utf8', timeout: 120_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A shell line with `pipet` standing for this checkout's CLI. */
function shell(line: string, extraEnv: Record<string, string> = {}) {
  const cli = `${JSON.stringify(process.execPath)} --disable-warning=ExperimentalWarning ${JSON.stringify(main)}`;
  const result = spawnSync('sh', ['-c', line.replaceAll('pipet ', `${cli} `)], { cwd: ROOT, env: { ...process.env, ...env, ...extraEnv }, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const client = () => new Pipet({ url: env.PIPET_URL, key: env.PIPET_KEY });
const stream = (slug: string) => `${team.slug}/${slug}`;

describe('pipet export | pipet import', () => {
  it('round-trips a stream: the same bodies in the same order, with a progress bar and a summary', async () => {
    const file = join(dir, 'events.ndjson');
    const exported = shell(`pipet export ${stream('source')} > ${file}`);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.stderr).toMatch(new RegExp(`Exported ${SOURCE_EVENTS} events`));
    const lines = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(SOURCE_EVENTS);
    expect(lines[3]).toEqual({ index: 3, receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), body: { n: 3, user: 'u3', tags: ['a', { deep: [3] }] } });
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: SOURCE_EVENTS }, (_, i) => i));

    const imported = shell(`pipet import ${stream('copy')} < ${file}`);
    expect(imported.code, imported.stderr).toBe(0);
    // The bar (rate and ETA from the file's size) and the summary, on stderr.
    expect(imported.stderr).toMatch(/Importing \|.*\| 100% \| 5000 events \| \d+ events\/s \| ETA/);
    expect(imported.stderr).toMatch(/Imported 5000 events into .*\/copy in 5 batches: 5000 appended/);
    expect(imported.stdout).toBe('');
    const [src, copy] = await Promise.all([client().stream(stream('source')).slice(), client().stream(stream('copy')).slice()]);
    expect(copy).toEqual(src);

    // Piped straight through, with --total for the ETA.
    const piped = shell(`pipet export ${stream('source')} | pipet import ${stream('piped')} --total ${SOURCE_EVENTS} --batch 700`);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toMatch(/Imported 5000 events .* in 8 batches: 5000 appended/);
    expect(await client().stream(stream('piped')).slice()).toEqual(src);
  });

  it('appends nothing twice when an import is run again, after it finished or after it was killed midway', async () => {
    const file = join(dir, 'again.ndjson');
    expect(shell(`pipet export ${stream('source')} > ${file}`).code).toBe(0);
    expect(pipet(['import', stream('twice')], { input: readFileSync(file, 'utf8') }).code).toBe(0);
    const again = pipet(['import', stream('twice')], { input: readFileSync(file, 'utf8') });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/0 appended, 5000 already there/);
    expect(await client().stream(stream('twice')).length()).toBe(SOURCE_EVENTS);

    // Killed while it works (small batches, so there is a midway), then run again to the end.
    const killed = spawn('sh', ['-c', `exec ${JSON.stringify(process.execPath)} --disable-warning=ExperimentalWarning ${JSON.stringify(main)} import ${stream('crashed')} --batch 50 < ${file}`], { cwd: ROOT, env: { ...process.env, ...env }, stdio: 'ignore' });
    const target = client().stream(stream('crashed'));
    await expect.poll(() => target.length().catch(() => 0), { timeout: 60_000, interval: 20 }).toBeGreaterThan(300);
    killed.kill('SIGKILL');
    await new Promise((r) => killed.once('exit', r));
    const partial = await target.length();
    expect(partial).toBeLessThan(SOURCE_EVENTS);
    const rerun = shell(`pipet import ${stream('crashed')} --batch 50 < ${file}`);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(rerun.stderr).toMatch(new RegExp(`${SOURCE_EVENTS - partial} appended, ${partial} already there`));
    expect((await target.slice()).map((e) => (e as { n: number }).n)).toEqual(Array.from({ length: SOURCE_EVENTS }, (_, i) => i));
  });

  it('exports from --start (to resume) up to --end, and refuses a bad line naming it, storing nothing of it', async () => {
    const part = pipet(['export', stream('source'), '--start', '4990', '--end', '4995']);
    expect(part.code, part.stderr).toBe(0);
    expect(part.stdout.trim().split('\n').map((l) => JSON.parse(l).index)).toEqual([4990, 4991, 4992, 4993, 4994]);
    const bad = pipet(['import', stream('bad')], { input: '{"index":0,"body":1}\nnot json\n' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/Line 2 is not JSON/);
    expect(await client().stream(stream('bad')).length().catch(() => 0)).toBe(0);
  });
});

describe('pipet push, tail, state', () => {
  it('pushes from an argument or stdin, reads a reducer’s state and tails from an index', async () => {
    const first = pipet(['push', stream('counted'), '{"type":"signup","user":"ada"}']);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout)).toEqual({ index: 0, length: 1 });
    const second = pipet(['push', stream('counted')], { input: '{"type":"login"}\n' });
    expect(JSON.parse(second.stdout)).toEqual({ index: 1, length: 2 });
    expect(pipet(['push', stream('counted'), '{nope']).stderr).toMatch(/not JSON/);

    const state = pipet(['state', stream('counted'), 'count', '--after', '1']);
    expect(state.code, state.stderr).toBe(0);
    expect(JSON.parse(state.stdout)).toBe(2);

    const tail = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', main, 'tail', stream('counted'), '--from', '0'], { cwd: ROOT, env: { ...process.env, ...env } });
    let out = '';
    tail.stdout.on('data', (d) => (out += d));
    await expect.poll(() => out.split('\n').length, { timeout: 10_000 }).toBeGreaterThan(2);
    pipet(['push', stream('counted'), '3']);
    await expect.poll(() => out.trim().split('\n').length, { timeout: 10_000 }).toBe(3);
    tail.kill('SIGINT');
    const lines = out.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.index, l.body])).toEqual([[0, { type: 'signup', user: 'ada' }], [1, { type: 'login' }], [2, 3]]);
  });

  it('reads the server and key from a profile file, explains a missing one, and has --help on each command', () => {
    const profile = join(dir, 'profile.json');
    writeFileSync(profile, JSON.stringify({ url: env.PIPET_URL, key: env.PIPET_KEY }));
    const viaProfile = pipet(['state', stream('counted'), 'count'], { extraEnv: { PIPET_URL: '', PIPET_KEY: '', PIPET_PROFILE: profile } });
    expect(viaProfile.code, viaProfile.stderr).toBe(0);
    const none = pipet(['push', stream('counted'), '1'], { extraEnv: { PIPET_URL: '', PIPET_KEY: '' } });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/set PIPET_URL/);
    for (const command of ['push', 'tail', 'state', 'export', 'import']) {
      const help = pipet([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: pipet ${command} STREAM`));
    }
    expect(pipet(['--help']).stdout).toMatch(/import STREAM/);
  });
});
