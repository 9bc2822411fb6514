// A stream's id is derived from its slugs twice over: in Node (streams/stream-id.ts) and in SQL
// (pipet_stream_id, migration citus_keys). Every lookup by URL relies on the two agreeing.
import { expect, inject, it } from 'vitest';
import pg from 'pg';
import { randomBytes } from 'node:crypto';
import { streamIdFor } from '../../src/lib/server/streams/stream-id.ts';
import { databaseUrl } from '../helpers/services.ts';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789-';
/** A random slug, `[a-z0-9][a-z0-9-]{0,62}`. */
const slug = () => Array.from(randomBytes(1 + (randomBytes(1)[0] % 63)), (b, i) => ALPHABET[b % (i === 0 ? 36 : 37)]).join('');

it('gives the same id in Node and in SQL, a version-3 UUID of the two slugs', async () => {
  // A fixed point, so a change to either side is caught even if both change alike.
  expect(streamIdFor('acme', 'signups')).toBe('775ed93e-779a-3a2f-9774-dc0ed1b04ef2');
  const pairs: [string, string][] = [['acme', 'signups'], ['a', 'b'], ['team-1', 'x'.repeat(63)], ...Array.from({ length: 200 }, () => [slug(), slug()] as [string, string])];
  const client = new pg.Client({ connectionString: databaseUrl(inject('adminUrl'), inject('templateDb')) });
  await client.connect();
  try {
    const { rows } = await client.query<{ id: string }>('SELECT pipet_stream_id(t, s)::text AS id FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(t, s, n) ORDER BY n', [pairs.map((p) => p[0]), pairs.map((p) => p[1])]);
    expect(rows.map((r) => r.id)).toEqual(pairs.map(([t, s]) => streamIdFor(t, s)));
  } finally {
    await client.end();
  }
  for (const [t, s] of pairs) expect(streamIdFor(t, s)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-3[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  // The separator keeps the pair unambiguous: slugs have no `/`.
  expect(streamIdFor('ab', 'c')).not.toBe(streamIdFor('a', 'bc'));
});
