// A browser's cookies over plain fetch: what Set-Cookie answers leave (an emptied or max-age=0
// cookie is dropped), and the Cookie header that sends them back.
export type CookieJar = { jar: Map<string, string>; remember(res: Response): Response; cookie(): string };

export function cookieJar(): CookieJar {
  const jar = new Map<string, string>();
  return {
    jar,
    remember(res) {
      for (const line of res.headers.getSetCookie()) {
        const [pair] = line.split(';');
        const [name, value] = pair.split('=');
        if (value === '' || /max-age=0/i.test(line)) jar.delete(name);
        else jar.set(name, value);
      }
      return res;
    },
    cookie: () => [...jar].map(([k, v]) => `${k}=${v}`).join('; '),
  };
}
