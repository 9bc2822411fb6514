// Redirect targets that come from input (`?redirectTo=`, a form's `_redirect`): resolved the way a
// browser would resolve them, so what is checked is where the browser actually goes.

// Browsers drop tabs and newlines from URLs and treat `\` as `/`, so `/\t/evil.example` is
// `//evil.example`; raw control characters are refused before anything else.
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_LENGTH = 2048;

/**
 * A path on `origin` to redirect to, or null: `target` is resolved against `origin` and must stay
 * on it. The result is the path, query and fragment as the URL parser serialises them (ASCII,
 * percent-encoded), never starting with `//`, so it is safe in a `Location` header.
 */
export function sameOriginPath(target: string | null | undefined, origin: string): string | null {
  if (!target || target.length > MAX_LENGTH || CONTROL.test(target)) return null;
  let base: URL;
  let url: URL;
  try {
    base = new URL(origin);
    url = new URL(target, base);
  } catch {
    return null;
  }
  if (url.origin !== base.origin || url.username || url.password) return null;
  const path = url.pathname + url.search + url.hash;
  return path.startsWith('/') && !path.startsWith('//') ? path : null;
}

/**
 * An absolute http(s) URL to send a browser to after a form post, or null. The caller decides
 * whether its origin is allowed; this only refuses what is never a page (`javascript:`, `data:`,
 * relative or malformed targets, control characters).
 */
export function httpRedirect(target: string | null | undefined): URL | null {
  if (!target || target.length > MAX_LENGTH || CONTROL.test(target)) return null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username || url.password) return null;
  return url;
}
