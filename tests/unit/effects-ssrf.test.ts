// The private-address guard: which addresses and URLs a webhook may not call.
import { describe, expect, it } from 'vitest';
import { blockedReason, resolveDestination, RefusedDestination } from '../../src/lib/server/effects/ssrf.ts';

describe('blockedReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['100.127.255.255', 'carrier-grade NAT'],
    ['0.0.0.0', 'this network'],
    ['0.1.2.3', 'this network'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.10', 'documentation'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456::1', 'unique-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::192.168.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['[::1]', 'loopback'],
    // Special-purpose ranges that were missing from the list.
    ['192.88.99.1', '6to4 relay anycast'],
    ['192.88.99.255', '6to4 relay anycast'],
    ['::ffff:8.8.8.8', 'IPv4-mapped'],
    ['::ffff:808:808', 'IPv4-mapped'],
    ['::ffff:0:8.8.8.8', 'IPv4-translated'],
    ['::ffff:0:127.0.0.1', 'IPv4-translated'],
    ['64:ff9b:1::1', 'local-use IPv4/IPv6 translation'],
    ['64:ff9b:1:ffff::8.8.8.8', 'local-use IPv4/IPv6 translation'],
    ['2001::1', 'Teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'Teredo'],
    ['2001:0:ffff:ffff:ffff:ffff:ffff:ffff', 'Teredo'],
  ])('refuses %s (%s)', (address, reason) => {
    expect(blockedReason(address)).toContain(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '11.0.0.1', '192.169.0.1', '2606:4700:4700::1111', '2001:4860:4860::8888', '64:ff9b::8.8.8.8', '2002:0808:0808::', '192.88.98.255', '192.88.100.0', '64:ff9b:2::1', '2001:1::1', '2001:200::1'])(
    'allows the public address %s',
    (address) => {
      expect(blockedReason(address)).toBeNull();
    },
  );

  it('says so for things that are not addresses', () => {
    expect(blockedReason('example.com')).toBe('not an IP address');
  });
});

describe('resolveDestination', () => {
  const guard = { allowPrivate: false };

  it.each([
    ['ftp://example.com/x', /Only http and https/],
    ['file:///etc/passwd', /Only http and https/],
    ['not a url', /not a valid URL/],
    ['http://127.0.0.1:8080/hook', /127\.0\.0\.1 is a loopback address/],
    ['http://[::1]/hook', /loopback/],
    ['http://[::ffff:169.254.169.254]/latest/meta-data', /link-local/],
    ['http://169.254.169.254/latest/meta-data', /link-local/],
    ['http://0x7f000001/', /loopback/],
    ['http://2130706433/', /loopback/],
    ['http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/', /Teredo/],
    ['http://[64:ff9b:1::a00:1]/', /local-use IPv4\/IPv6 translation/],
  ])('refuses %s', async (url, message) => {
    await expect(resolveDestination(url, guard)).rejects.toThrow(message);
    await expect(resolveDestination(url, guard)).rejects.toBeInstanceOf(RefusedDestination);
  });

  it('refuses a name when any of its addresses is private, and says which', async () => {
    const resolve = async () => [
      { address: '93.184.215.14', family: 4 },
      { address: '10.0.0.7', family: 4 },
    ];
    await expect(resolveDestination('https://mixed.example/hook', { allowPrivate: false, resolve })).rejects.toThrow(/mixed\.example resolves to 10\.0\.0\.7, which is a private address/);
  });

  it('refuses localhost through the system resolver', async () => {
    await expect(resolveDestination('http://localhost:9/', guard)).rejects.toThrow(/loopback/);
  });

  it('pins the public address it checked', async () => {
    const resolve = async () => [{ address: '93.184.215.14', family: 4 }];
    const d = await resolveDestination('https://public.example:8443/x?y=1', { allowPrivate: false, resolve });
    expect(d).toMatchObject({ address: '93.184.215.14', family: 4 });
    expect(d.url.port).toBe('8443');
  });

  it('lets private addresses through when the deployment allows them, but never other schemes', async () => {
    await expect(resolveDestination('http://127.0.0.1:8080/', { allowPrivate: true })).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(resolveDestination('gopher://127.0.0.1/', { allowPrivate: true })).rejects.toThrow(/Only http and https/);
  });
});
