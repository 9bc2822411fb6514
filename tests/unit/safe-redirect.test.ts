// Redirect targets from input: only paths on our own origin after `?redirectTo=`, only http(s)
// URLs after a form's `_redirect`. Cases are what a browser would make of the target.
import { describe, expect, it } from 'vitest';
import { httpRedirect, sameOriginPath } from '../../src/lib/server/auth/safe-redirect.ts';

const ORIGIN = 'https://pipet.example';

describe('sameOriginPath', () => {
  it.each([
    ['/acme', '/acme'],
    ['/invite/abc123', '/invite/abc123'],
    ['/acme/streams/x?tab=settings#reducers', '/acme/streams/x?tab=settings#reducers'],
    ['acme', '/acme'],
    ['https://pipet.example/acme', '/acme'],
    ['/caf\u00e9', '/caf%C3%A9'],
    ['/a b', '/a%20b'],
    ['/../acme', '/acme'],
  ])('follows %j to %j', (target, expected) => {
    expect(sameOriginPath(target, ORIGIN)).toBe(expected);
  });

  it.each([
    ['/\t/evil.example'], // what ?redirectTo=/%09/evil.example decodes to: browsers drop the tab
    ['/\n/evil.example'],
    ['/\r\nSet-Cookie: x=1'],
    ['/acme\u0000'],
    ['/acme\u007f'],
    ['//evil.example'],
    ['/\\evil.example'],
    ['\\\\evil.example'],
    ['/.//evil.example'],
    ['https://evil.example/'],
    ['http://pipet.example/acme'], // another scheme is another origin
    ['https://pipet.example:8443/acme'],
    ['https://user:pw@pipet.example/acme'],
    ['javascript:alert(1)'],
    ['data:text/html,hi'],
    [''],
    [null],
    [undefined],
    ['/' + 'a'.repeat(3000)],
  ])('refuses %j', (target) => {
    expect(sameOriginPath(target, ORIGIN)).toBeNull();
  });
});

describe('httpRedirect', () => {
  it.each(['https://customer.example/thanks', 'http://customer.example:8080/a?b=c#d'])('accepts %s', (target) => {
    expect(httpRedirect(target)?.href).toBe(new URL(target).href);
  });

  it.each(['javascript:alert(1)', 'JavaScript:alert(1)', 'data:text/html,<script>1</script>', 'ftp://customer.example/', '/thanks', '//customer.example/x', 'https://customer.example/\nx', 'https://a:b@customer.example/', 'not a url', ''])(
    'refuses %j',
    (target) => {
      expect(httpRedirect(target)).toBeNull();
    },
  );
});
