// Sign in with GitHub, the OAuth side (Lucia's "GitHub OAuth" tutorial, on arctic): whether it is
// configured, the authorization URL, and the GitHub account a callback's code stands for, with its
// email addresses. arctic's generic OAuth2Client takes the endpoints, so GITHUB_OAUTH_URL and
// GITHUB_API_URL can point at GitHub Enterprise Server, or a test's stub, through the same code.
// The access token is used for two reads and dropped: never stored, never logged.
import { OAuth2Client, OAuth2RequestError, generateState, type OAuth2Tokens } from 'arctic';
import { z } from 'zod';
import { env } from '../env.ts';
import { AppError } from '../errors.ts';
import { limiter } from '../rate-limit.ts';
import { Email } from './create-user.ts';

export { generateState };

/** The cookies of one authorization, read back by the callback; all httpOnly, SameSite=Lax, 10 minutes. */
export const GITHUB_STATE_COOKIE = 'github_oauth_state';
export const GITHUB_NEXT_COOKIE = 'github_oauth_next';
export const GITHUB_LINK_COOKIE = 'github_oauth_link';
export const GITHUB_COOKIE_MAX_AGE = 10 * 60;
/** What Pipet asks for: the account's email addresses (with their verified flags); the profile needs no scope. */
export const GITHUB_SCOPES = ['user:email'];
const TIMEOUT_MS = 10_000;

/** Both the client id and the secret are set: the button shows and the routes answer. */
export function githubConfigured(): boolean {
  const e = env();
  return !!e.GITHUB_CLIENT_ID && !!e.GITHUB_CLIENT_SECRET;
}

function endpoints() {
  const e = env();
  const oauth = e.GITHUB_OAUTH_URL.replace(/\/+$/, '');
  const api = e.GITHUB_API_URL.replace(/\/+$/, '');
  return { authorize: `${oauth}/login/oauth/authorize`, token: `${oauth}/login/oauth/access_token`, user: `${api}/user`, emails: `${api}/user/emails` };
}

function client(redirectUri: string): OAuth2Client {
  const e = env();
  if (!e.GITHUB_CLIENT_ID || !e.GITHUB_CLIENT_SECRET) throw new AppError('not_found', 'Sign in with GitHub is not set up on this server.');
  return new OAuth2Client(e.GITHUB_CLIENT_ID, e.GITHUB_CLIENT_SECRET, redirectUri);
}

/** The callback URL on this site: the one registered with the OAuth app. */
export function githubRedirectUri(origin: string): string {
  return `${origin}/login/github/callback`;
}

/** Where to send the browser to authorize Pipet on GitHub. */
export function githubAuthorizationUrl({ state, origin }: { state: string; origin: string }): URL {
  return client(githubRedirectUri(origin)).createAuthorizationURL(endpoints().authorize, state, GITHUB_SCOPES);
}

/** GitHub callbacks (each costs three calls to GitHub) per client address per 15 minutes. */
export function githubCallbackLimiter() {
  return limiter('auth-github-callback-address', env().AUTH_RATE_LIMIT_PER_ADDRESS, 15 * 60);
}

const GithubUser = z.object({ id: z.number().int().positive(), login: z.string().min(1).max(100), name: z.string().nullish() });
const GithubEmails = z.array(z.object({ email: z.string(), primary: z.boolean(), verified: z.boolean() }));

/** A GitHub account as Pipet sees it: its numeric id (as text), login, and the addresses GitHub has verified, primary first. */
export type GithubIdentity = { id: string; login: string; name: string | null; verifiedEmails: string[] };

function unreachable(): AppError {
  return new AppError('unavailable', 'GitHub did not answer in time; try again in a moment.', { retryAfter: 5 });
}

async function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(unreachable()), TIMEOUT_MS)));
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function getJson(url: string, accessToken: string): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, {
      headers: { authorization: `Bearer ${accessToken}`, accept: 'application/vnd.github+json', 'user-agent': 'Pipet', 'x-github-api-version': '2022-11-28' },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch {
    throw unreachable();
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new AppError('unavailable', `GitHub answered ${res.status} when Pipet asked who you are; try again in a moment.`, { retryAfter: 5 });
  }
  return res.json().catch(() => null);
}

/**
 * The GitHub account behind a callback's `code`: exchanges it for an access token, reads the
 * profile and the email addresses, and forgets the token. A code GitHub refuses (used, expired)
 * is a 400 that says to start again.
 */
export async function fetchGithubIdentity({ code, origin }: { code: string; origin: string }): Promise<GithubIdentity> {
  const { token, user: userUrl, emails: emailsUrl } = endpoints();
  const refused = () => new AppError('bad_request', 'GitHub did not accept this sign-in (its code works once, for 10 minutes). Start again.');
  let tokens: OAuth2Tokens;
  try {
    tokens = await withTimeout(client(githubRedirectUri(origin)).validateAuthorizationCode(token, code, null));
  } catch (error) {
    if (error instanceof AppError) throw error;
    // arctic's errors carry GitHub's error code, never the token; say no more than that.
    if (error instanceof OAuth2RequestError) throw refused();
    throw unreachable();
  }
  // GitHub answers a bad code with 200 and an `error` field (arctic's GitHub class checks for it;
  // the generic client does not).
  if (typeof (tokens.data as { error?: unknown }).error === 'string') throw refused();
  let accessToken: string;
  try {
    accessToken = tokens.accessToken();
  } catch {
    throw new AppError('unavailable', 'GitHub answered in a way Pipet did not understand; try again later.', { retryAfter: 5 });
  }
  const [profile, emails] = await Promise.all([getJson(userUrl, accessToken), getJson(emailsUrl, accessToken)]);
  const user = GithubUser.safeParse(profile);
  const list = GithubEmails.safeParse(emails);
  if (!user.success || !list.success) throw new AppError('unavailable', 'GitHub answered in a way Pipet did not understand; try again later.', { retryAfter: 5 });
  const verified = list.data
    .filter((e) => e.verified)
    .sort((a, b) => Number(b.primary) - Number(a.primary))
    .map((e) => Email.safeParse(e.email))
    .flatMap((e) => (e.success ? [e.data] : []));
  return { id: String(user.data.id), login: user.data.login, name: user.data.name?.trim() || null, verifiedEmails: [...new Set(verified)] };
}
