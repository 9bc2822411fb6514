import { describe, expect, it } from 'vitest';
import { parseRedisUrl, RedisUrlError, type RedisTarget } from '../../src/lib/server/redis-url.ts';

const n = (host: string, port: number) => ({ host, port });

describe('parseRedisUrl accepts', () => {
  const cases: [string, { cluster?: boolean }, RedisTarget][] = [
    // One server: the URL goes to ioredis untouched.
    ['redis://127.0.0.1:6379', {}, { mode: 'single', url: 'redis://127.0.0.1:6379' }],
    ['redis://localhost', {}, { mode: 'single', url: 'redis://localhost' }],
    ['redis://:s3cret@cache.internal:6380/2', {}, { mode: 'single', url: 'redis://:s3cret@cache.internal:6380/2' }],
    ['rediss://default:pw@cache.example.com:6380', {}, { mode: 'single', url: 'rediss://default:pw@cache.example.com:6380' }],
    ['  redis://127.0.0.1:6379  ', {}, { mode: 'single', url: 'redis://127.0.0.1:6379' }],
    // Cluster by scheme.
    ['redis+cluster://127.0.0.1:7000,127.0.0.1:7001', {}, { mode: 'cluster', nodes: [n('127.0.0.1', 7000), n('127.0.0.1', 7001)], options: { tls: false } }],
    ['redis+cluster://127.0.0.1:7000', {}, { mode: 'cluster', nodes: [n('127.0.0.1', 7000)], options: { tls: false } }],
    ['redis+cluster://node-a, node-b:7001 ,node-c', {}, { mode: 'cluster', nodes: [n('node-a', 6379), n('node-b', 7001), n('node-c', 6379)], options: { tls: false } }],
    ['redis+cluster://app:p%40ss%3Aword@a:7000,b:7000', {}, { mode: 'cluster', nodes: [n('a', 7000), n('b', 7000)], options: { tls: false, username: 'app', password: 'p@ss:word' } }],
    ['redis+cluster://:onlypw@a:7000', {}, { mode: 'cluster', nodes: [n('a', 7000)], options: { tls: false, password: 'onlypw' } }],
    ['redis+cluster://app@a:7000', {}, { mode: 'cluster', nodes: [n('a', 7000)], options: { tls: false, username: 'app' } }],
    ['redis+cluster://a:7000,b:7000?tls', {}, { mode: 'cluster', nodes: [n('a', 7000), n('b', 7000)], options: { tls: true } }],
    ['redis+cluster://a:7000?tls=true', {}, { mode: 'cluster', nodes: [n('a', 7000)], options: { tls: true } }],
    ['redis+cluster://a:7000?tls=0', {}, { mode: 'cluster', nodes: [n('a', 7000)], options: { tls: false } }],
    ['rediss+cluster://u:p@clustercfg.example.cache.amazonaws.com:6379', {}, { mode: 'cluster', nodes: [n('clustercfg.example.cache.amazonaws.com', 6379)], options: { tls: true, username: 'u', password: 'p' } }],
    ['REDIS+CLUSTER://A.Example:7000/0', {}, { mode: 'cluster', nodes: [n('a.example', 7000)], options: { tls: false } }],
    ['redis+cluster://[::1]:7000,[::1]:7001', {}, { mode: 'cluster', nodes: [n('::1', 7000), n('::1', 7001)], options: { tls: false } }],
    ['redis+cluster://[fd00::5]', {}, { mode: 'cluster', nodes: [n('fd00::5', 6379)], options: { tls: false } }],
    // REDIS_CLUSTER=1: the URL's host (or hosts) are seeds.
    ['redis://10.0.0.5:7000', { cluster: true }, { mode: 'cluster', nodes: [n('10.0.0.5', 7000)], options: { tls: false } }],
    ['redis://10.0.0.5:7000,10.0.0.6:7000', { cluster: true }, { mode: 'cluster', nodes: [n('10.0.0.5', 7000), n('10.0.0.6', 7000)], options: { tls: false } }],
    ['rediss://user:pw@cfg.example:6379', { cluster: true }, { mode: 'cluster', nodes: [n('cfg.example', 6379)], options: { tls: true, username: 'user', password: 'pw' } }],
    ['redis://cfg.example', { cluster: true }, { mode: 'cluster', nodes: [n('cfg.example', 6379)], options: { tls: false } }],
    // A cluster scheme is a cluster whatever REDIS_CLUSTER says.
    ['redis+cluster://a:7000', { cluster: false }, { mode: 'cluster', nodes: [n('a', 7000)], options: { tls: false } }],
  ];
  it.each(cases)('%s %o', (url, options, expected) => {
    expect(parseRedisUrl(url, options)).toEqual(expected);
  });
});

describe('parseRedisUrl refuses, saying why', () => {
  const cases: [string, { cluster?: boolean }, RegExp][] = [
    ['http://127.0.0.1:6379', {}, /expected redis:\/\//],
    ['127.0.0.1:6379', {}, /expected redis:\/\//],
    ['redis://a:7000,b:7000', {}, /redis\+cluster:\/\/ or REDIS_CLUSTER=1/],
    ['redis://', {}, /not a valid URL|names no host/],
    ['redis+cluster://', {}, /at least one host/],
    ['redis+cluster://a:7000,,b:7000', {}, /empty entry/],
    ['redis+cluster://a:70000', {}, /port must be a number/],
    ['redis+cluster://a:port', {}, /port must be a number/],
    ['redis+cluster://a:', {}, /port must be a number/],
    ['redis+cluster://::1:7000', {}, /IPv6 addresses in brackets/],
    ['redis+cluster://[::1:7000', {}, /unclosed \[/],
    ['redis+cluster://a:7000/3', {}, /only database 0/],
    ['redis://a:7000/1', { cluster: true }, /only database 0/],
    ['redis+cluster://a:7000?db=1', {}, /unknown cluster option `db`/],
    ['redis+cluster://a:7000?tls=maybe', {}, /not a yes\/no value/],
    ['rediss+cluster://a:7000?tls=false', {}, /always TLS/],
    ['redis+cluster://a:7000,a:7000', {}, /listed twice/],
    ['redis+cluster://u:%zz@a:7000', {}, /malformed %-escape/],
  ];
  it.each(cases)('%s %o', (url, options, message) => {
    expect(() => parseRedisUrl(url, options)).toThrow(RedisUrlError);
    expect(() => parseRedisUrl(url, options)).toThrow(message);
  });

  it('never repeats a password in its message', () => {
    expect(() => parseRedisUrl('http://user:hunter2@a:1')).toThrow(/user:\*\*\*@/);
    expect(() => parseRedisUrl('http://user:hunter2@a:1')).not.toThrow(/hunter2/);
  });
});
