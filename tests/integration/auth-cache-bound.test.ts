// The per-process authorization cache keeps unknown keys too (so a flood of made-up keys does not
// reach PostgreSQL), which makes its size a stranger's lever: it must stay bounded.
import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { useOwnDatabase, makeTeam } from '../helpers/context.ts';

await useOwnDatabase('authcache');
const { db } = await import('../../src/lib/server/db/client.ts');
const { findApiKey } = await import('../../src/lib/server/auth/api-keys.ts');
const { AUTH_CACHE_MAX_ENTRIES, authCacheSize, cached } = await import('../../src/lib/server/auth/auth-cache.ts');
const { closeNotify } = await import('../../src/lib/server/notify.ts');
afterAll(() => closeNotify());

describe('the authorization cache', () => {
  it('stays within its bound under made-up keys, and still answers real ones', async () => {
    const team = await makeTeam(db());
    const key = await team.key(['ingest']);
    expect(await findApiKey(key)).toMatchObject({ teamId: team.id });
    // Wait until this process's invalidation subscription is up: only then does it cache.
    for (let i = 0; authCacheSize() === 0 && i < 100; i++) {
      await findApiKey(`pk_${randomBytes(4).toString('hex')}_${randomBytes(12).toString('hex')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(authCacheSize()).toBeGreaterThan(0);
    // Made-up entries, as many as a flood of unknown keys would leave (without a round trip each).
    for (let i = 0; i < AUTH_CACHE_MAX_ENTRIES + 5_000; i++) await cached(`key:made-up-${i}`, async () => null, () => null);
    expect(authCacheSize()).toBe(AUTH_CACHE_MAX_ENTRIES);
    expect(await findApiKey(key)).toMatchObject({ teamId: team.id });
    expect(await findApiKey(`pk_${randomBytes(4).toString('hex')}_${randomBytes(12).toString('hex')}`)).toBeNull();
  });
});
