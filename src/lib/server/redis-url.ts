// What REDIS_URL names: one Redis, or the seed nodes of a Redis Cluster. Pure, so every accepted
// form is pinned by a table of unit tests; redis.ts turns the answer into ioredis clients.
//
//   redis://[user:pass@]host[:port][/db]        one server (ioredis parses the URL itself)
//   rediss://…                                  the same over TLS
//   redis+cluster://[user:pass@]h:p,h:p[?tls]   a cluster, through these seeds
//   rediss+cluster://…                          the same over TLS
//   redis://h:p[,h:p…] with REDIS_CLUSTER=1     a cluster whose seeds are the URL's hosts
//                                               (rediss:// for TLS)
// WHATWG URL cannot parse a host list (`new URL('redis://a:1,b:2')` throws), so the cluster forms
// are split by hand.

export type RedisNode = { host: string; port: number };

/** What a cluster connection needs besides its seeds; the same for every node. */
export type ClusterConnection = { username?: string; password?: string; tls: boolean };

export type RedisTarget = { mode: 'single'; url: string } | { mode: 'cluster'; nodes: RedisNode[]; options: ClusterConnection };

export type ParseRedisUrlOptions = {
  /** REDIS_CLUSTER=1: the (single-looking) URL's hosts are seeds of a cluster. */
  cluster?: boolean;
};

export class RedisUrlError extends Error {
  constructor(message: string) {
    super(`REDIS_URL: ${message}`);
    this.name = 'RedisUrlError';
  }
}

const DEFAULT_PORT = 6379;
const SCHEMES = ['redis:', 'rediss:', 'redis+cluster:', 'rediss+cluster:'] as const;
const TLS_VALUES = new Set(['', '1', 'true', 'yes']);
const NO_TLS_VALUES = new Set(['0', 'false', 'no']);

export function parseRedisUrl(raw: string, { cluster = false }: ParseRedisUrlOptions = {}): RedisTarget {
  const text = raw.trim();
  const colon = text.indexOf('://');
  const scheme = (colon > 0 ? text.slice(0, colon + 1) : '').toLowerCase();
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new RedisUrlError(`expected redis://, rediss://, redis+cluster:// or rediss+cluster://, not \`${redact(text)}\`.`);
  }
  const clusterScheme = scheme.endsWith('+cluster:');
  if (!clusterScheme && !cluster) {
    // One server: hand the URL to ioredis unchanged, after checking it is one URL at all.
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new RedisUrlError(`\`${redact(text)}\` is not a valid URL${text.includes(',') ? ' (a list of hosts needs redis+cluster:// or REDIS_CLUSTER=1)' : ''}.`);
    }
    if (!url.hostname) throw new RedisUrlError(`\`${redact(text)}\` names no host.`);
    return { mode: 'single', url: text };
  }
  return { mode: 'cluster', ...parseCluster(text.slice(colon + 3), scheme.startsWith('rediss')) };
}

function parseCluster(rest: string, tlsScheme: boolean): { nodes: RedisNode[]; options: ClusterConnection } {
  const hashAt = rest.indexOf('#');
  if (hashAt >= 0) rest = rest.slice(0, hashAt);
  const queryAt = rest.indexOf('?');
  const query = queryAt >= 0 ? rest.slice(queryAt + 1) : '';
  let authority = queryAt >= 0 ? rest.slice(0, queryAt) : rest;
  const slash = authority.indexOf('/');
  if (slash >= 0) {
    const db = authority.slice(slash + 1);
    // Redis Cluster has only database 0.
    if (db !== '' && db !== '0') throw new RedisUrlError(`a Redis Cluster has only database 0, not /${db}.`);
    authority = authority.slice(0, slash);
  }
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;

  const options: ClusterConnection = { tls: tlsScheme };
  if (userinfo) {
    const sep = userinfo.indexOf(':');
    const username = decode(sep >= 0 ? userinfo.slice(0, sep) : userinfo);
    const password = sep >= 0 ? decode(userinfo.slice(sep + 1)) : '';
    // `redis://:secret@host` is a password alone (the default user), as ioredis reads it.
    if (username) options.username = username;
    if (password) options.password = password;
  }

  for (const pair of query ? query.split('&') : []) {
    const eq = pair.indexOf('=');
    const name = decode(eq >= 0 ? pair.slice(0, eq) : pair);
    const value = decode(eq >= 0 ? pair.slice(eq + 1) : '').toLowerCase();
    if (name !== 'tls') throw new RedisUrlError(`unknown cluster option \`${name}\` (only \`tls\` is understood).`);
    if (TLS_VALUES.has(value)) options.tls = true;
    else if (NO_TLS_VALUES.has(value) && !tlsScheme) options.tls = false;
    else throw new RedisUrlError(`\`tls=${value}\` is not a yes/no value${tlsScheme ? ', and rediss+cluster:// is always TLS' : ''}.`);
  }

  if (!hostList) throw new RedisUrlError('a cluster URL needs at least one host:port.');
  const nodes = hostList.split(',').map((entry) => parseNode(entry.trim()));
  const seen = new Set<string>();
  for (const n of nodes) {
    const key = `${n.host}:${n.port}`;
    if (seen.has(key)) throw new RedisUrlError(`${key} is listed twice.`);
    seen.add(key);
  }
  return { nodes, options };
}

function parseNode(entry: string): RedisNode {
  if (!entry) throw new RedisUrlError('an empty entry in the host list.');
  let host: string;
  let portText: string | undefined;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) throw new RedisUrlError(`\`${entry}\`: unclosed [ in an IPv6 address.`);
    host = entry.slice(1, close);
    const after = entry.slice(close + 1);
    if (after && !after.startsWith(':')) throw new RedisUrlError(`\`${entry}\` is not host:port.`);
    portText = after ? after.slice(1) : undefined;
  } else {
    const parts = entry.split(':');
    if (parts.length > 2) throw new RedisUrlError(`\`${entry}\`: write IPv6 addresses in brackets, like [::1]:7000.`);
    [host, portText] = parts;
  }
  if (!host || /[\s/@?#]/.test(host)) throw new RedisUrlError(`\`${entry}\` has no valid host.`);
  const port = portText === undefined ? DEFAULT_PORT : Number(portText);
  if (!/^\d+$/.test(portText ?? '6379') || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new RedisUrlError(`\`${entry}\`: the port must be a number from 1 to 65535.`);
  }
  return { host: host.toLowerCase(), port };
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RedisUrlError('a malformed %-escape.');
  }
}

/** The URL without its password, for error messages. */
function redact(text: string): string {
  return text.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
}
