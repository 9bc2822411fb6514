// Fail closed: with nothing configured, Pipet runs as production — private webhook destinations are
// refused and session cookies are Secure — and only an explicit setting opens either up.
import { afterEach, describe, expect, it } from 'vitest';
import { env, resetEnv } from '../../src/lib/server/env.ts';
import { privateWebhooksAllowed, resolveDestination } from '../../src/lib/server/effects/ssrf.ts';
import { setSessionCookie } from '../../src/lib/server/auth/sessions.ts';

const saved = { NODE_ENV: process.env.NODE_ENV, ALLOW_PRIVATE_WEBHOOKS: process.env.ALLOW_PRIVATE_WEBHOOKS };
function configure(vars: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetEnv();
}
afterEach(() => configure(saved));

function cookieOptions(): Record<string, unknown> {
  let options: Record<string, unknown> = {};
  setSessionCookie({ set: (_n: string, _v: string, o: Record<string, unknown>) => (options = o) } as never, 'token', new Date(Date.now() + 60_000));
  return options;
}

describe('defaults', () => {
  it('are production: private destinations refused, cookies Secure', async () => {
    configure({ NODE_ENV: undefined, ALLOW_PRIVATE_WEBHOOKS: undefined });
    expect(env().NODE_ENV).toBe('production');
    expect(privateWebhooksAllowed()).toBe(false);
    await expect(resolveDestination('http://127.0.0.1:9/hook')).rejects.toThrow(/loopback address/);
    expect(cookieOptions()).toMatchObject({ secure: true, httpOnly: true, sameSite: 'lax' });
  });

  it('stay closed in development unless private webhooks are asked for', async () => {
    configure({ NODE_ENV: 'development', ALLOW_PRIVATE_WEBHOOKS: undefined });
    expect(privateWebhooksAllowed()).toBe(false);
    configure({ NODE_ENV: 'development', ALLOW_PRIVATE_WEBHOOKS: 'true' });
    expect(privateWebhooksAllowed()).toBe(true);
    await expect(resolveDestination('http://127.0.0.1:9/hook')).resolves.toMatchObject({ address: '127.0.0.1' });
    expect(cookieOptions()).toMatchObject({ secure: false });
  });
});
