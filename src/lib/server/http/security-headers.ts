// Headers every answer carries. The Content-Security-Policy (with `frame-ancestors 'none'`) is set
// by SvelteKit on its pages, with a nonce for its own inline script (kit.csp in svelte.config.js);
// these cover the rest, and browsers that predate frame-ancestors.
import type { Handle } from '@sveltejs/kit';
import { withHeaders } from './respond.ts';

export const SECURITY_HEADERS: Record<string, string> = {
  // Clickjacking: no page of the app may be framed, by another site or by itself.
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Paths carry team and stream names; other sites see only the origin.
  'referrer-policy': 'strict-origin-when-cross-origin',
};

export const handleSecurityHeaders: Handle = async ({ event, resolve }) => withHeaders(await resolve(event), SECURITY_HEADERS);
