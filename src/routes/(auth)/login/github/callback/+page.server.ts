// Sign in with GitHub, step two: GitHub sends the browser back with a code and the state. The state
// must be the one in this browser's cookie (else 400); the code becomes the GitHub account and its
// verified addresses (auth/github.ts), which sign in, create an account, or link GitHub to the
// signed-in account; anything else is explained on this page.
import { error, redirect } from '@sveltejs/kit';
import type { PageServerLoad } from './$types';
import { AppError } from '$lib/server/errors.ts';
import { consume } from '$lib/server/rate-limit.ts';
import { twoFactorStepPath } from '$lib/server/auth/credentials-action.ts';
import {
  fetchGithubIdentity,
  GITHUB_LINK_COOKIE,
  GITHUB_NEXT_COOKIE,
  GITHUB_STATE_COOKIE,
  githubCallbackLimiter,
  githubConfigured,
  type GithubIdentity,
} from '$lib/server/auth/github.ts';
import { landingPath } from '$lib/server/auth/landing.ts';
import { linkGithub, type GithubLink } from '$lib/server/auth/link-github.ts';
import { sameOriginPath } from '$lib/server/auth/safe-redirect.ts';
import { createSession, invalidateSession, sessionDetails, setSessionCookie } from '$lib/server/auth/sessions.ts';
import { signInWithGithub, type GithubSignIn } from '$lib/server/auth/sign-in-with-github.ts';

export type Outcome =
  | Exclude<GithubSignIn, { kind: 'signed-in' }>
  | Exclude<GithubLink, { kind: 'linked' }>
  | { kind: 'cancelled' }
  /** A link started by an account that is no longer the one signed in here. */
  | { kind: 'link-signed-out' };

/** Runs `work`, turning an AppError into the error page with its status and message. */
async function orErrorPage<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    if (e instanceof AppError) error(e.status, { code: e.code, message: e.message });
    throw e;
  }
}

export const load: PageServerLoad = async (event) => {
  const { url, cookies, locals, getClientAddress } = event;
  if (!githubConfigured()) error(404, 'Not found');
  const expected = cookies.get(GITHUB_STATE_COOKIE);
  const linkFor = cookies.get(GITHUB_LINK_COOKIE);
  const next = sameOriginPath(cookies.get(GITHUB_NEXT_COOKIE), url.origin);
  // One authorization, one callback.
  for (const name of [GITHUB_STATE_COOKIE, GITHUB_LINK_COOKIE, GITHUB_NEXT_COOKIE]) cookies.delete(name, { path: '/login/github' });

  await orErrorPage(() => consume(githubCallbackLimiter(), getClientAddress(), 'Too many GitHub sign-ins from this address; wait a few minutes and try again.'));
  const state = url.searchParams.get('state');
  if (!expected || !state || state !== expected) {
    error(400, {
      code: 'github_state',
      message: 'This GitHub sign-in was not started from this browser, or it took more than 10 minutes, so Pipet did not accept it. Nothing was changed. Start again.',
    });
  }
  // The person pressed "Cancel" on GitHub.
  if (url.searchParams.has('error')) return { outcome: { kind: 'cancelled' } as Outcome, login: null };
  const code = url.searchParams.get('code');
  if (!code) error(400, { code: 'bad_request', message: 'GitHub sent no sign-in code. Start again.' });
  const identity: GithubIdentity = await orErrorPage(() => fetchGithubIdentity({ code, origin: url.origin }));

  if (linkFor) {
    if (locals.user?.id !== linkFor) return { outcome: { kind: 'link-signed-out' } as Outcome, login: identity.login };
    const userId = locals.user.id;
    const linked = await linkGithub({ userId, identity });
    if (linked.kind === 'linked') redirect(303, '/account?github=linked');
    return { outcome: linked as Outcome, login: identity.login };
  }

  const result = await orErrorPage(() => signInWithGithub({ identity, clientAddress: getClientAddress() }));
  if (result.kind !== 'signed-in') return { outcome: result as Outcome, login: identity.login };
  // A session like the password log-in's: it waits for the second factor when two-factor is on.
  if (locals.session) await invalidateSession(locals.session.id);
  const { token, session } = await createSession(result.user.id, undefined, sessionDetails(event));
  setSessionCookie(cookies, token, session.expiresAt);
  if (result.user.twoFactor) redirect(303, twoFactorStepPath(next));
  redirect(303, await landingPath(result.user.id, { redirectTo: next, origin: url.origin }));
};
