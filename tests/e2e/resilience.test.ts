// What happens when things go wrong: a server killed mid-load, PostgreSQL unreachable, a flood.
import { describe, expect, it } from 'vitest';
import { makeTeam, useOwnDatabase, makeStream } from '../helpers/context.ts';
import { startWeb } from '../helpers/server.ts';
import { bearer, expectError, postJson } from '../helpers/http.ts';
import { freePort } from '../../src/lib/server/embedded/free-port.ts';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';

const own = await useOwnDatabase('resilience');
const { db } = await import('../../src/lib/server/db/client.ts');
const { readEvents } = await import('../../src/lib/server/streams/read-events.ts');

describe('a server killed mid-load', () => {
  it('loses no acknowledged event', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest', 'read']);
    const server = await startWeb(own.env);
    const target = `${server.url}/s/${team.slug}/load`;
    const acked: { index: number; id: string }[] = [];
    let stop = false;
    const client = async (c: number) => {
      for (let i = 0; !stop; i++) {
        const id = `${c}-${i}`;
        try {
          const res = await postJson(target, { id }, bearer(key));
          if (res.status === 201) acked.push({ index: (await res.json()).index, id });
        } catch {
          return; // connection refused or reset: the server is gone
        }
      }
    };
    const clients = Array.from({ length: 6 }, (_, c) => client(c));
    while (acked.length < 150) await new Promise((r) => setTimeout(r, 20));
    await server.kill('SIGKILL');
    stop = true;
    await Promise.all(clients);

    const stream = await db().stream.findUniqueOrThrow({ where: { id: streamIdFor(team.slug, 'load') } });
    const stored = await readEvents({ streamId: stream.id, start: 0, end: stream.length });
    expect(stored.map((e) => e.index)).toEqual(Array.from({ length: stream.length }, (_, i) => i));
    const byIndex = new Map(stored.map((e) => [e.index, JSON.parse(e.bodyJson).id]));
    for (const a of acked) expect(byIndex.get(a.index)).toBe(a.id);
    expect(acked.length).toBeGreaterThanOrEqual(150);

    // A new server carries on where the stream left off.
    const again = await startWeb(own.env);
    try {
      const res = await postJson(`${again.url}/s/${team.slug}/load`, { id: 'after' }, bearer(key));
      expect(await res.json()).toEqual({ index: stream.length, length: stream.length + 1 });
    } finally {
      await again.stop();
    }
  });
});

describe('PostgreSQL unreachable', () => {
  it('answers 503 with Retry-After, never a false acknowledgement', async () => {
    const nowhere = `postgresql://postgres@127.0.0.1:${await freePort()}/none`;
    const server = await startWeb({ ...own.env, DATABASE_URL: nowhere });
    try {
      const res = await postJson(`${server.url}/s/some-team/some-stream`, { a: 1 }, bearer('pk_abc_def'));
      expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
      await expectError(res, 503, 'unavailable');
    } finally {
      await server.stop();
    }
  });
});

describe('public streams under a flood', () => {
  it('answers 429 with Retry-After past the per-address limit', async () => {
    const team = await makeTeam(db());
    await makeStream(db(), { teamId: team.id, slug: 'guestbook', name: 'guestbook', publicWrite: true, publicRead: true });
    const server = await startWeb({ ...own.env, PUBLIC_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const url = `${server.url}/s/${team.slug}/guestbook`;
      for (let i = 0; i < 3; i++) expect((await postJson(url, { i })).status).toBe(201);
      const res = await postJson(url, { i: 3 });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      await expectError(res, 429, 'rate_limited');
      expect(await db().stream.findFirstOrThrow({ where: { teamId: team.id } }).then((s) => s.length)).toBe(3);
    } finally {
      await server.stop();
    }
  });
});

describe('limits per key and per team', () => {
  it('rate-limits each API key and its team, says where it stands in RateLimit-* headers, and honours a team limit', async () => {
    const team = await makeTeam(db());
    const [a, b] = [await team.key(['ingest']), await team.key(['ingest'])];
    const other = await makeTeam(db());
    const elsewhere = await other.key(['ingest']);
    const server = await startWeb({ ...own.env, KEY_RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const url = `${server.url}/s/${team.slug}/limited`;
      for (let i = 0; i < 3; i++) {
        const res = await postJson(url, { i }, bearer(a));
        expect(res.status).toBe(201);
        expect(res.headers.get('ratelimit-limit')).toBe('3');
        expect(res.headers.get('ratelimit-remaining')).toBe(String(2 - i));
      }
      const over = await postJson(url, { i: 3 }, bearer(a));
      expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(over.headers.get('ratelimit-remaining')).toBe('0');
      await expectError(over, 429, 'rate_limited');
      // Another key of the same team shares the team's limit; a key of another team is not affected.
      await expectError(await postJson(url, { i: 'b' }, bearer(b)), 429, 'rate_limited');
      expect((await postJson(`${server.url}/s/${other.slug}/limited`, { i: 'c' }, bearer(elsewhere))).status).toBe(201);

      const generous = await makeTeam(db());
      await db().team.update({ where: { id: generous.id }, data: { rateLimitPerMinute: 5 } });
      const g = await generous.key(['ingest']);
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await postJson(`${server.url}/s/${generous.slug}/more`, { i }, bearer(g))).status);
      expect(statuses).toEqual([201, 201, 201, 201, 201, 429]);
    } finally {
      await server.stop();
    }
  });

  it('caps the streams of a team, including streams an ingest key would create', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest']);
    const server = await startWeb({ ...own.env, MAX_STREAMS_PER_TEAM: '2' });
    try {
      expect((await postJson(`${server.url}/s/${team.slug}/one`, {}, bearer(key))).status).toBe(201);
      expect((await postJson(`${server.url}/s/${team.slug}/two`, {}, bearer(key))).status).toBe(201);
      const third = await postJson(`${server.url}/s/${team.slug}/three`, {}, bearer(key));
      expect((await expectError(third, 409, 'conflict')).message).toMatch(/2 streams, its limit/);
      expect(await db().stream.count({ where: { teamId: team.id } })).toBe(2);
      expect((await postJson(`${server.url}/s/${team.slug}/one`, { again: true }, bearer(key))).status).toBe(201); // existing streams still take events
      await db().team.update({ where: { id: team.id }, data: { maxStreams: 3 } });
      expect((await postJson(`${server.url}/s/${team.slug}/three`, {}, bearer(key))).status).toBe(201);
    } finally {
      await server.stop();
    }
  });
});
