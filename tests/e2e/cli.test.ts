// The admin CLI and `npm start` on embedded defaults, run as a user would run them.
import { describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useOwnDatabase } from '../helpers/context.ts';
import { ROOT, startWeb } from '../helpers/server.ts';
import { bearer, postJson } from '../helpers/http.ts';
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
    const row = await db().apiKey.findFirstOrThrow({ where: { prefix: key.split('_')[1] }, include: { stream: true } });
    expect(row.stream?.slug).toBe('only');
    expect(row.scopes).toEqual(['read']);
    expect(row.hash).not.toContain(key.split('_')[2]);
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

describe('npm start on embedded defaults', () => {
  it('starts PostgreSQL, Redis, web and worker with no configuration, serves the curl line, and stops cleanly on Ctrl-C', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'pipet-start-'));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PIPET_DATA_DIR: dataDir, PORT: String(port) };
    for (const k of ['DATABASE_URL', 'REDIS_URL', 'QUEUE_PREFIX', 'NODE_ENV']) delete env[k];
    // Its own process group, so Ctrl-C can be sent to the whole group as a terminal does.
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', 'src/cli/main.ts', 'start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    try {
      // A fresh clone builds the web app first (about half a minute on two busy cores since the UI
      // gained Tailwind, CodeMirror and charts), then creates the embedded PostgreSQL cluster.
      const deadline = Date.now() + 150_000;
      while (!/Pipet worker running/.test(out) || !/Listening on/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`start failed:\n${out}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      const curl = /curl -X POST (\S+) -H 'Content-Type: application\/json' -d '(.+)'/.exec(out)!;
      expect(curl, out).not.toBeNull();
      const res = await postJson(curl[1], JSON.parse(curl[2]));
      expect(res.status).toBe(201);
      const read = /curl (http\S+\/0)\n/.exec(out)!;
      expect(await (await fetch(read[1])).json()).toEqual({ hello: 'world' });
      // The landing page's playground is made on first visit, and takes a POST without a key.
      const origin = new URL(curl[1]).origin;
      expect(await (await fetch(`${origin}/`)).text()).toContain('POST /s/demo/playground');
      expect((await postJson(`${origin}/s/demo/playground`, { button: 'ship' })).status).toBe(201);

      const redisPort = /Embedded Redis on redis:\/\/127\.0\.0\.1:(\d+)/.exec(out)![1];
      process.kill(-child.pid!, 'SIGINT');
      expect([0, 130]).toContain(await exited);
      expect(out).toContain('Stopping Pipet');
      for (const pattern of [dataDir, `127.0.0.1:${redisPort}`, `127.0.0.1:${port}`]) {
        expect(spawnSync('pgrep', ['-f', pattern], { encoding: 'utf8' }).stdout.trim(), pattern).toBe('');
      }
      expect(await fetch(read[1]).then(() => 'up', () => 'down')).toBe('down');
    } finally {
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGKILL');
      spawnSync('pkill', ['-9', '-f', dataDir]);
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 180_000);
});
