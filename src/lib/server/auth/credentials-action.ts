// The shared shape of the log-in and sign-up form actions: read the credentials, run `authenticate`,
// answer its AppError as a form error, or start a session and go where the user was headed.
import { fail, redirect, type RequestEvent } from '@sveltejs/kit';
import { AppError } from '../errors.ts';
import { landingPath } from './landing.ts';
import { sameOriginPath } from './safe-redirect.ts';
import { createSession, sessionDetails, setSessionCookie } from './sessions.ts';

/** The log-in page's second step (the two-factor code), then on to `redirectTo`. */
export function twoFactorStepPath(redirectTo: string | null): string {
  return redirectTo ? `/login/two-factor?redirectTo=${encodeURIComponent(redirectTo)}` : '/login/two-factor';
}

type Credentials = { email: string; password: string; clientAddress: string; requestOrigin: string };

export function credentialsAction(authenticate: (c: Credentials) => Promise<{ id: string; twoFactor?: boolean }>) {
  return async (event: RequestEvent) => {
    const { request, cookies, url, getClientAddress } = event;
    const form = await request.formData();
    const email = String(form.get('email') ?? '');
    const password = String(form.get('password') ?? '');
    const redirectTo = String(form.get('redirectTo') ?? '') || url.searchParams.get('redirectTo');
    let user: { id: string; twoFactor?: boolean };
    try {
      user = await authenticate({ email, password, clientAddress: getClientAddress(), requestOrigin: url.origin });
    } catch (error) {
      if (error instanceof AppError) {
        return fail(error.status, { email, message: error.message, fields: (error.details ?? {}) as Record<string, string[] | undefined> });
      }
      throw error;
    }
    const { token, session } = await createSession(user.id, undefined, sessionDetails(event));
    setSessionCookie(cookies, token, session.expiresAt);
    // With two-factor on, the session is not signed in yet: the log-in page asks for the code.
    if (user.twoFactor) redirect(303, twoFactorStepPath(sameOriginPath(redirectTo, url.origin)));
    redirect(303, await landingPath(user.id, { redirectTo, origin: url.origin }));
  };
}

/** Both pages' load: the signed-in go straight on; others get the form's hidden fields. */
export async function credentialsLoad({ locals, url }: Pick<RequestEvent, 'locals' | 'url'>) {
  const redirectTo = url.searchParams.get('redirectTo');
  if (locals.user) redirect(303, await landingPath(locals.user.id, { redirectTo, origin: url.origin }));
  // Only a checked path goes into the page's links and hidden field.
  return { redirectTo: sameOriginPath(redirectTo, url.origin), email: url.searchParams.get('email') ?? '' };
}
