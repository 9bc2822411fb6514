// The private-address guard for webhooks: refuse destinations inside the deployment's network
// (loopback, private, link-local, metadata services, ...) unless ALLOW_PRIVATE_WEBHOOKS. The
// address checked is the address connected to, so DNS rebinding cannot swap it afterwards.
import { lookup } from 'node:dns/promises';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { env } from '../env.ts';

const V4_RULES: [string, number, string][] = [
  ['0.0.0.0', 8, 'a "this network" address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local address'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol address'],
  ['192.0.2.0', 24, 'a documentation address'],
  ['192.88.99.0', 24, 'a 6to4 relay anycast address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['198.51.100.0', 24, 'a documentation address'],
  ['203.0.113.0', 24, 'a documentation address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
];

const V6_RULES: [string, number, string][] = [
  ['::', 128, 'the unspecified address'],
  ['::1', 128, 'a loopback address'],
  ['fe80::', 10, 'a link-local address'],
  ['fec0::', 10, 'a site-local address'],
  ['fc00::', 7, 'a unique-local address'],
  ['ff00::', 8, 'a multicast address'],
  ['2001:db8::', 32, 'a documentation address'],
  ['100::', 64, 'a discard-only address'],
  // Translation and tunnelling prefixes (IANA special-purpose registry) whose embedded IPv4 or
  // relay cannot be checked reliably: an IPv4 destination should be given as IPv4.
  ['::ffff:0:0', 96, 'an IPv4-mapped address'],
  ['::ffff:0:0:0', 96, 'an IPv4-translated address'],
  ['64:ff9b:1::', 48, 'a local-use IPv4/IPv6 translation address'],
  ['2001::', 32, 'a Teredo tunnelling address'],
];

const RULES = [
  ...V4_RULES.map(([net, prefix, reason]) => ({ family: 'ipv4' as const, list: subnet(net, prefix, 'ipv4'), reason })),
  ...V6_RULES.map(([net, prefix, reason]) => ({ family: 'ipv6' as const, list: subnet(net, prefix, 'ipv6'), reason })),
];

function subnet(net: string, prefix: number, family: 'ipv4' | 'ipv6'): BlockList {
  const list = new BlockList();
  list.addSubnet(net, prefix, family);
  return list;
}

/** The 16 bytes of an IPv6 address (which may end in a dotted quad). */
function ipv6Bytes(address: string): number[] {
  let text = address.toLowerCase();
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad[1].split('.').map(Number);
    text = text.slice(0, -quad[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

/** The IPv4 address an IPv6 address carries (IPv4-mapped, -compatible, NAT64, 6to4), if any. */
function embeddedIPv4(address: string): string | null {
  const b = ipv6Bytes(address);
  const zero = (from: number, to: number) => b.slice(from, to).every((x) => x === 0);
  const v4 = (at: number) => b.slice(at, at + 4).join('.');
  if (zero(0, 10) && b[10] === 0xff && b[11] === 0xff) return v4(12); // ::ffff:a.b.c.d
  if (zero(0, 12) && !(b[12] === 0 && b[13] === 0 && b[14] === 0 && b[15] <= 1)) return v4(12); // ::a.b.c.d (deprecated)
  if (b[0] === 0x00 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zero(4, 12)) return v4(12); // 64:ff9b::/96
  if (b[0] === 0x20 && b[1] === 0x02) return v4(2); // 2002::/16
  return null;
}

/** Why an IP address is not a public destination, or null when it is. Pure; table-tested. */
export function blockedReason(address: string): string | null {
  const ip = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 0) return 'not an IP address';
  if (family === 6) {
    const v4 = embeddedIPv4(ip);
    if (v4) {
      const inner = blockedReason(v4);
      if (inner) return inner;
    }
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (type === 'ipv4' && ip === '255.255.255.255') return 'the broadcast address';
  for (const rule of RULES) if (rule.family === type && rule.list.check(ip, type)) return rule.reason;
  return null;
}

/** Private destinations are allowed only by an explicit ALLOW_PRIVATE_WEBHOOKS=true. */
export function privateWebhooksAllowed(): boolean {
  return env().ALLOW_PRIVATE_WEBHOOKS === true;
}

/** A destination that must not be called: an attempt refused before any connection. */
export class RefusedDestination extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RefusedDestination';
  }
}

export type Destination = { url: URL; address: string; family: 4 | 6 };

export type ResolveOptions = { allowPrivate?: boolean; resolve?: (host: string) => Promise<{ address: string; family: number }[]> };

/**
 * Parses and resolves a webhook URL to the one address to connect to. Every address the name
 * resolves to must be public (a name with one private address among public ones is refused).
 */
export async function resolveDestination(rawUrl: string, { allowPrivate = privateWebhooksAllowed(), resolve = (h) => lookup(h, { all: true, verbatim: true }) }: ResolveOptions = {}): Promise<Destination> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new RefusedDestination(`\`${rawUrl}\` is not a valid URL.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new RefusedDestination(`Only http and https URLs can be called, not ${url.protocol.replace(/:$/, '')}.`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      throw Object.assign(new Error(`Could not resolve ${host}: ${(error as { code?: string }).code ?? (error as Error).message}`), { retryable: true });
    }
    if (addresses.length === 0) throw Object.assign(new Error(`${host} has no addresses.`), { retryable: true });
  }
  if (!allowPrivate) {
    for (const { address } of addresses) {
      const reason = blockedReason(address);
      if (reason) {
        throw new RefusedDestination(
          `Refused: ${host}${host === address ? '' : ` resolves to ${address}, which`} is ${reason}. Webhooks may only call public addresses (ALLOW_PRIVATE_WEBHOOKS is off).`,
        );
      }
    }
  }
  const chosen = addresses[0];
  return { url, address: chosen.address, family: chosen.family === 6 ? 6 : 4 };
}

/** A `lookup` for node:http that answers with the already-checked address, never asking DNS again. */
export function pinnedLookup({ address, family }: { address: string; family: 4 | 6 }): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}
