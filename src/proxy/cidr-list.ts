// IPv4/IPv6 address ranges, parsed once at config time into a node:net BlockList.
// Shared by trusted_proxies (who may speak for the client) and the routes' ip_allow /
// ip_deny (who may call a route). IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is folded into
// IPv4 on both sides, as a dual-stack listener reports IPv4 peers that way.
import { BlockList, isIP } from 'node:net';

export type AddressTest = (ip: string) => boolean;

/**
 * Builds a membership test for `10.0.0.0/8`, `2001:db8::/32` or single addresses.
 * Throws an Error naming `key` and the entry when one is not an address or CIDR.
 */
export function createCidrList(entries: readonly string[], key: string): AddressTest {
  const list = new BlockList();
  for (const entry of entries) {
    const problem = addEntry(list, entry);
    if (problem) throw new Error(`${key}: "${entry}" ${problem}`);
  }
  return (ip) => {
    const address = unmapAddress(ip);
    const family = isIP(address);
    return family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  };
}

/** Why `entry` is not an address or CIDR, or undefined when it is one (for config checks). */
export function cidrProblem(entry: string): string | undefined {
  const problem = addEntry(new BlockList(), entry);
  return problem && `"${entry}" ${problem}`;
}

function addEntry(list: BlockList, entry: string): string | undefined {
  const slash = entry.indexOf('/');
  let address = slash < 0 ? entry.trim() : entry.slice(0, slash).trim();
  let prefix = slash < 0 ? undefined : Number(entry.slice(slash + 1).trim());
  let family = isIP(address);
  const unmapped = family === 6 ? unmapAddress(address) : address;
  if (unmapped !== address) {
    if (prefix !== undefined && prefix < 96) return 'reaches beyond the IPv4-mapped range; write it as IPv4';
    address = unmapped;
    prefix = prefix === undefined ? undefined : prefix - 96;
    family = 4;
  }
  if (family === 0) return 'is not an IP address or CIDR';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (prefix === undefined) {
    list.addAddress(address, type);
    return undefined;
  }
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > (family === 4 ? 32 : 128)) {
    return 'has an invalid prefix length';
  }
  list.addSubnet(address, prefix, type);
  return undefined;
}

/** `::ffff:1.2.3.4` (what a dual-stack listener reports for IPv4 peers) -> `1.2.3.4`. */
export function unmapAddress(address: string): string {
  if (address.length > 7 && address.charCodeAt(0) === 58 /* : */ && address.indexOf('.') > 0) {
    const lower = address.slice(0, 7).toLowerCase();
    if (lower === '::ffff:') return address.slice(7);
  }
  return address;
}
