import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { test } from 'node:test';
import { createClientAddressResolver } from '../../src/proxy/client-address.ts';
import { clientKey } from '../../src/ratelimit/client-key.ts';

const TRUSTED = ['10.0.0.0/8', '192.168.1.1', '2001:db8:ffff::/48'];

interface Case {
  readonly name: string;
  readonly peer: string;
  readonly headers: IncomingHttpHeaders;
  readonly client: string;
}

const cases: Case[] = [
  // Untrusted peers: headers are ignored whatever they say.
  { name: 'untrusted peer, no header', peer: '203.0.113.9', headers: {}, client: '203.0.113.9' },
  {
    name: 'untrusted peer, spoofed XFF',
    peer: '203.0.113.9',
    headers: { 'x-forwarded-for': '1.1.1.1' },
    client: '203.0.113.9',
  },
  {
    name: 'untrusted peer, spoofed Forwarded',
    peer: '203.0.113.9',
    headers: { forwarded: 'for=1.1.1.1' },
    client: '203.0.113.9',
  },
  {
    name: 'untrusted peer, X-Real-IP',
    peer: '203.0.113.9',
    headers: { 'x-real-ip': '1.1.1.1' },
    client: '203.0.113.9',
  },
  {
    name: 'untrusted IPv4-mapped peer is unmapped',
    peer: '::ffff:203.0.113.9',
    headers: {},
    client: '203.0.113.9',
  },
  // Trusted peers: the right-most untrusted hop.
  { name: 'trusted peer without header', peer: '10.1.2.3', headers: {}, client: '10.1.2.3' },
  {
    name: 'trusted peer, one hop',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '198.51.100.7' },
    client: '198.51.100.7',
  },
  {
    name: 'client-written hops left of the real one are ignored',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '6.6.6.6, 7.7.7.7, 198.51.100.7' },
    client: '198.51.100.7',
  },
  {
    name: 'trusted hops are skipped right to left',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 192.168.1.1, 10.9.9.9' },
    client: '198.51.100.7',
  },
  {
    name: 'all hops trusted: the left-most',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '10.7.7.7, 10.8.8.8' },
    client: '10.7.7.7',
  },
  {
    name: 'IPv4-mapped trusted peer',
    peer: '::ffff:10.1.2.3',
    headers: { 'x-forwarded-for': '198.51.100.7' },
    client: '198.51.100.7',
  },
  {
    name: 'IPv4-mapped hop',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '::ffff:198.51.100.7' },
    client: '198.51.100.7',
  },
  {
    name: 'IPv6 trusted peer and hop',
    peer: '2001:db8:ffff:1::5',
    headers: { 'x-forwarded-for': '2001:db8:1:2::9' },
    client: '2001:db8:1:2::9',
  },
  {
    name: 'hop with port',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '198.51.100.7:51234' },
    client: '198.51.100.7',
  },
  {
    name: 'bracketed IPv6 hop with port',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '[2001:db8::9]:443' },
    client: '2001:db8::9',
  },
  {
    name: 'repeated header lines',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': ['6.6.6.6', '198.51.100.7'] },
    client: '198.51.100.7',
  },
  {
    name: 'empty elements are skipped',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '198.51.100.7, ,' },
    client: '198.51.100.7',
  },
  // Garbage stops the walk at the last good address.
  {
    name: 'garbage right-most hop: the peer',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '1.1.1.1, nonsense' },
    client: '10.1.2.3',
  },
  {
    name: 'garbage behind a trusted hop: that hop',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '1.1.1.1, 300.1.1.1, 10.4.4.4' },
    client: '10.4.4.4',
  },
  {
    name: 'garbage with a port-like tail',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '1.2.3.4:http' },
    client: '10.1.2.3',
  },
  {
    name: 'unclosed bracket',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '[2001:db8::9' },
    client: '10.1.2.3',
  },
  // RFC 7239 Forwarded.
  {
    name: 'Forwarded for=',
    peer: '10.1.2.3',
    headers: { forwarded: 'for=198.51.100.7;proto=https' },
    client: '198.51.100.7',
  },
  {
    name: 'Forwarded with several elements, quoted IPv6, mixed case',
    peer: '10.1.2.3',
    headers: { forwarded: 'for=6.6.6.6, For="[2001:db8:1::17]:4711";proto=http, for=10.2.2.2;by=10.0.0.1' },
    client: '2001:db8:1::17',
  },
  {
    name: 'Forwarded for=unknown stops',
    peer: '10.1.2.3',
    headers: { forwarded: 'for=6.6.6.6, for=unknown' },
    client: '10.1.2.3',
  },
  {
    name: 'Forwarded obfuscated stops',
    peer: '10.1.2.3',
    headers: { forwarded: 'for=_hidden, for=10.5.5.5' },
    client: '10.5.5.5',
  },
  {
    name: 'Forwarded element without for stops',
    peer: '10.1.2.3',
    headers: { forwarded: 'for=6.6.6.6, proto=https' },
    client: '10.1.2.3',
  },
  {
    name: 'X-Forwarded-For wins over Forwarded',
    peer: '10.1.2.3',
    headers: { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=6.6.6.6' },
    client: '198.51.100.7',
  },
];

test('client address resolution', async (t) => {
  const resolve = createClientAddressResolver(TRUSTED);
  for (const c of cases) {
    await t.test(c.name, () => assert.equal(resolve(c.peer, c.headers), c.client));
  }
});

test('rotating X-Forwarded-For from an untrusted peer never changes the client', () => {
  const resolve = createClientAddressResolver(TRUSTED);
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++) seen.add(resolve('203.0.113.9', { 'x-forwarded-for': `1.2.3.${i}` }));
  assert.deepEqual([...seen], ['203.0.113.9']);
});

test('rotating the client-written part behind a trusted proxy never changes the client', () => {
  const resolve = createClientAddressResolver(TRUSTED);
  const seen = new Set<string>();
  for (let i = 0; i < 100; i++)
    seen.add(resolve('10.1.2.3', { 'x-forwarded-for': `1.2.3.${i}, garbage${i}, 198.51.100.7` }));
  assert.deepEqual([...seen], ['198.51.100.7']);
});

test('with no trusted proxies the peer is returned without reading headers', () => {
  const resolve = createClientAddressResolver([]);
  const headers = new Proxy({} as IncomingHttpHeaders, {
    get() {
      throw new Error('headers were read');
    },
  });
  assert.equal(resolve('10.1.2.3', headers), '10.1.2.3');
  assert.equal(resolve('::ffff:10.1.2.3', headers), '10.1.2.3');
  assert.equal(resolve('2001:db8::1', headers), '2001:db8::1');
});

test('IPv4-mapped trusted ranges and host bits in CIDRs', () => {
  const resolve = createClientAddressResolver(['::ffff:10.0.0.0/104', '172.16.5.5/12']);
  assert.equal(resolve('10.3.3.3', { 'x-forwarded-for': '1.1.1.1' }), '1.1.1.1');
  assert.equal(resolve('172.31.0.1', { 'x-forwarded-for': '1.1.1.1' }), '1.1.1.1');
  assert.equal(resolve('172.32.0.1', { 'x-forwarded-for': '1.1.1.1' }), '172.32.0.1');
});

test('a bad trusted_proxies entry fails at build time', () => {
  for (const entry of ['not-an-ip', '10.0.0.0/33', '2001:db8::/129', '10.0.0.0/x', '::ffff:10.0.0.0/80']) {
    assert.throws(() => createClientAddressResolver([entry]), /trusted_proxies/, entry);
  }
});

test('clientKey: IPv4 as is, IPv6 by /64, IPv4-mapped unmapped', () => {
  const table: [string, string][] = [
    ['203.0.113.9', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:0DB8:0001:0002:ffff::1', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['64:ff9b::1.2.3.4', '64:ff9b:0:0::/64'],
    ['not:an:address', 'not:an:address'],
    ['1::2::3', '1::2::3'],
    ['', ''],
  ];
  for (const [input, key] of table) assert.equal(clientKey(input), key, input);
});

test('clientKey: every address of one /64 shares a key', () => {
  const keys = new Set<string>();
  for (let i = 0; i < 256; i++) keys.add(clientKey(`2001:db8:aa:bb:${i.toString(16)}:1:2:3`));
  assert.equal(keys.size, 1);
});
