// The admin CLI and `npm start` on embedded defaults, run as a user would run them.
import { describe, expect, inject, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useOwnDatabase } from '../helpers/context.ts';
import { ROOT, startWeb } from '../helpers/server.ts';
import { bearer, postJson, readSse } from '../helpers/http.ts';
import { commandOf, descendants, waitAllGone } from '../helpers/processes.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';

const own = await useOwnDatabase('cli');

function pipet(args: string[], env: Record<string, string | undefined> = own.env) {
  const result = spawnSync(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/cli/main.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('pipet admin', () => {
  it('creates a user and a key that works against the API, printing one JSON object each', async () => {
    const user = pipet(['admin', 'create-user', '--email', 'Ops@Example.com', '--password', 'correct horse battery', '--team', 'ops', '--json']);
    expect(user.code, user.stderr).toBe(0);
    expect(JSON.parse(user.stdout)).toMatchObject({ user: { email: 'ops@example.com' }, team: { slug: 'ops' } });

    const key = pipet(['admin', 'create-key', '--team', 'ops', '--scopes', 'ingest,read', '--json']);
    expect(key.code, key.stderr).toBe(0);
    const { key: secret } = JSON.parse(key.stdout);
    expect(secret).toMatch(/^pk_[a-z0-9]+_[a-z0-9]+$/);

    const server = await startWeb(own.env);
    try {
      expect((await postJson(`${server.url}/s/ops/deploys`, { v: 1 }, bearer(secret))).status).toBe(201);
      expect(await (await fetch(`${server.url}/s/ops/deploys/0`, { headers: bearer(secret) })).json()).toEqual({ v: 1 });
    } finally {
      await server.stop();
    }
  });

  it('limits a key to one stream with --stream', async () => {
    pipet(['admin', 'create-user', '--email', 'solo@example.com', '--password', 'long enough pw', '--team', 'solo']);
    const { key } = JSON.parse(pipet(['admin', 'create-key', '--team', 'solo', '--scopes', 'read', '--stream', 'only', '--json']).stdout);
    const { db } = await import('../../src/lib/server/db/client.ts');
    const row = await db().apiKey.findFirstOrThrow({ where: { prefix: key.split('_')[1] } });
    expect((await db().stream.findUniqueOrThrow({ where: { id: row.streamId! } })).slug).toBe('only');
    expect(row.scopes).toEqual(['read']);
    expect(row.hash).not.toContain(key.split('_')[2]);
  });

  it("sets one team's limits above or below the defaults, and back", async () => {
    pipet(['admin', 'create-user', '--email', 'big@example.com', '--password', 'long enough pw', '--team', 'big']);
    const set = pipet(['admin', 'set-limits', '--team', 'big', '--rate-limit', '60000', '--max-streams', '5000', '--email-quota', '20000', '--keys-per-reducer', '50000000', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ slug: 'big', rateLimitPerMinute: 60000, maxStreams: 5000, emailQuotaPerDay: 20000, maxKeysPerReducer: 50000000 });
    const back = JSON.parse(pipet(['admin', 'set-limits', '--team', 'big', '--rate-limit', 'default', '--keys-per-reducer', 'default', '--json']).stdout);
    expect(back).toEqual({ slug: 'big', rateLimitPerMinute: null, maxStreams: 5000, emailQuotaPerDay: 20000, maxKeysPerReducer: null });
    expect(pipet(['admin', 'set-limits', '--team', 'big', '--max-streams', '-3']).code).toBe(1);
  });

  it("sets one account's limits across its teams, and back", () => {
    pipet(['admin', 'create-user', '--email', 'many@example.com', '--password', 'long enough pw', '--team', 'many']);
    const set = pipet(['admin', 'set-limits', '--user', 'Many@example.com', '--max-teams', '40', '--rate-limit', '30000', '--email-quota', '9000', '--json']);
    expect(set.code, set.stderr).toBe(0);
    expect(JSON.parse(set.stdout)).toEqual({ email: 'many@example.com', maxTeams: 40, rateLimitPerMinute: 30000, emailQuotaPerDay: 9000 });
    const back = JSON.parse(pipet(['admin', 'set-limits', '--user', 'many@example.com', '--max-teams', 'default', '--json']).stdout);
    expect(back).toEqual({ email: 'many@example.com', maxTeams: null, rateLimitPerMinute: 30000, emailQuotaPerDay: 9000 });
    expect(pipet(['admin', 'set-limits', '--user', 'nobody@example.com', '--max-teams', '3']).stderr).toMatch(/No account `nobody@example.com`/);
  });

  it('explains mistakes on stderr with a non-zero exit and prints nothing on stdout', () => {
    const dup = pipet(['admin', 'create-user', '--email', 'ops@example.com', '--password', 'another password', '--json']);
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toMatch(/already exists/);
    const scopes = pipet(['admin', 'create-key', '--team', 'ops', '--scopes', 'write', '--json']);
    expect(scopes.code).toBe(1);
    expect(scopes.stderr).toMatch(/ingest|read|manage/);
    const team = pipet(['admin', 'create-key', '--team', 'nope', '--scopes', 'read']);
    expect(team.stderr).toMatch(/No team `nope`/);
    expect(pipet(['frobnicate']).stderr).toMatch(/Unknown command/);
  });
});

/** `npm start` on embedded defaults in a fresh data folder, in a process group of its own as a terminal runs it. */
async function startPipet() {
  const dataDir = mkdtempSync(join(tmpdir(), 'pipet-start-'));
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PIPET_DATA_DIR: dataDir, PORT: String(port), PIPET_BUILD_DIR: inject('buildDir') };
  for (const k of ['DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'NODE_ENV', 'SHUTDOWN_TIMEOUT_MS']) delete env[k];
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/cli/main.ts', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  let tree: number[] = [];
  const cleanUp = () => {
    for (const pid of [child.pid!, ...tree, ...descendants(child.pid!)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    spawnSync('pkill', ['-9', '-f', dataDir]);
    rmSync(dataDir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (!/Pipet worker running/.test(out) || !/Pipet web listening/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      cleanUp();
      throw new Error(`start failed:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // Everything it started: web primary and web processes, worker, keeper, PostgreSQL, Redis.
  tree = descendants(child.pid!);
  return { child, dataDir, port, exited, output: () => out, tree: () => tree, cleanUp };
}

/** A reducer on the playground stream, through the embedded database `npm start` recorded. */
async function addPlaygroundReducer(dataDir: string): Promise<void> {
  const { databaseUrl } = JSON.parse(readFileSync(join(dataDir, 'services.json'), 'utf8')) as { databaseUrl: string };
  const { createDb } = await import('../../src/lib/server/db/client.ts');
  const { upsertReducer } = await import('../../src/lib/server/reducers/manage-reducer.ts');
  const db = createDb(databaseUrl, 1);
  try {
    const stream = await db.stream.findFirstOrThrow({ where: { slug: 'hello', team: { slug: 'local' } } });
    await upsertReducer({ streamId: stream.id, name: 'count', code: '(n) => n + 1', initialState: 0, db });
  } finally {
    await db.$disconnect();
  }
}

const BOUND_MS = 10_000; // SHUTDOWN_TIMEOUT_MS's default

describe('npm start on embedded defaults', () => {
  it('starts PostgreSQL, Redis, web and worker with no configuration, serves the curl line, and Ctrl-C with SSE clients open leaves no process behind within the bound', async () => {
    const pipet = await startPipet();
    try {
      const out = pipet.output();
      const curl = /curl -X POST (\S+) -H 'Content-Type: application\/json' -d '(.+)'/.exec(out)!;
      expect(curl, out).not.toBeNull();
      const res = await postJson(curl[1], JSON.parse(curl[2]));
      expect(res.status).toBe(201);
      const read = /curl (http\S+\/0)\n/.exec(out)!;
      expect(await (await fetch(read[1])).json()).toEqual({ hello: 'world' });
      await addPlaygroundReducer(pipet.dataDir);
      // The landing page's playground is made on first visit, and takes a POST without a key.
      const origin = `http://127.0.0.1:${pipet.port}`;
      expect(await (await fetch(`${origin}/`)).text()).toContain('POST /s/demo/playground');
      expect((await postJson(`${origin}/s/demo/playground`, { button: 'ship' })).status).toBe(201);

      // The reproduction: SSE clients on the stream and on a reducer's state, then Ctrl-C.
      const base = read[1].replace(/\/0$/, '');
      let open = 0;
      const opened = async () => void open++;
      const sse = [readSse(`${base}/events?from=0`, { count: 100, timeoutMs: 60_000, onOpen: opened }), readSse(`${base}/state/count/events`, { count: 100, timeoutMs: 60_000, onOpen: opened })];
      while (open < 2) await new Promise((r) => setTimeout(r, 50));
      expect(pipet.tree().length, out).toBeGreaterThanOrEqual(6);

      const sigint = Date.now();
      process.kill(-pipet.child.pid!, 'SIGINT');
      const left = await waitAllGone([pipet.child.pid!, ...pipet.tree()], BOUND_MS);
      console.log(`npm start: ${pipet.tree().length + 1} processes gone ${Date.now() - sigint} ms after Ctrl-C with 2 SSE clients open (bound ${BOUND_MS} ms)`);
      expect(left.map(commandOf), pipet.output()).toEqual([]);
      expect(await pipet.exited).toBe(0);
      expect(pipet.output()).toContain('Stopping Pipet');
      for (const stream of await Promise.all(sse)) expect(stream.comments.join('\n')).toMatch(/restarting/);
      expect(await fetch(read[1]).then(() => 'up', () => 'down')).toBe('down');
      expect(existsSync(join(pipet.dataDir, 'services.json'))).toBe(false);
    } finally {
      pipet.cleanUp();
    }
  }, 180_000);

  it('leaves no orphan when it is itself SIGKILLed: its children and the embedded services stop by themselves', async () => {
    const pipet = await startPipet();
    try {
      const base = `http://127.0.0.1:${pipet.port}/s/local/hello`;
      let open = 0;
      const sse = readSse(`${base}/events`, { count: 100, timeoutMs: 60_000, onOpen: async () => void open++ });
      while (open < 1) await new Promise((r) => setTimeout(r, 50));

      const sigkill = Date.now();
      pipet.child.kill('SIGKILL');
      // Web and worker drain within the bound; the keeper stops PostgreSQL and Redis once they are gone.
      const left = await waitAllGone(pipet.tree(), BOUND_MS + 5_000);
      console.log(`npm start SIGKILLed: its ${pipet.tree().length} processes gone ${Date.now() - sigkill} ms later`);
      expect(left.map(commandOf), pipet.output()).toEqual([]);
      expect((await sse).comments.join('\n')).toMatch(/restarting/);
      expect(existsSync(join(pipet.dataDir, 'services.json'))).toBe(false);
    } finally {
      pipet.cleanUp();
    }
  }, 120_000);
});
