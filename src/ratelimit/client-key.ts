// The rate-limit identity of an anonymous client. One IPv6 subscriber gets a whole /64
// (often far more), so keying on the full address would let a client rotate through
// 2^64 addresses, each with a fresh bucket. IPv4 clients are keyed as they are.

/**
 * `1.2.3.4` -> `1.2.3.4`; `2001:db8:a:b:c:d:e:f` -> `2001:db8:a:b::/64`;
 * IPv4-mapped IPv6 (`::ffff:1.2.3.4`, `::ffff:102:304`) -> `1.2.3.4`, so dual-stack
 * listeners do not put every IPv4 client into the single /64 `::ffff:0:0`.
 * Anything that is not an IPv6 address comes back unchanged.
 */
export function clientKey(ip: string): string {
  if (ip.indexOf(':') < 0) return ip;
  const groups = expandIPv6(ip);
  if (groups === undefined) return ip;
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    return `${groups[6] >> 8}.${groups[6] & 0xff}.${groups[7] >> 8}.${groups[7] & 0xff}`;
  }
  return `${groups[0].toString(16)}:${groups[1].toString(16)}:${groups[2].toString(16)}:${groups[3].toString(16)}::/64`;
}

/** The eight 16-bit groups of an IPv6 address (zone id ignored), or undefined when malformed. */
function expandIPv6(address: string): number[] | undefined {
  const zone = address.indexOf('%');
  const text = zone < 0 ? address : address.slice(0, zone);
  const gap = text.indexOf('::');
  if (gap >= 0 && text.indexOf('::', gap + 1) >= 0) return undefined;
  const head = gap < 0 ? parseGroups(text) : gap === 0 ? [] : parseGroups(text.slice(0, gap));
  const tail = gap < 0 ? [] : gap + 2 === text.length ? [] : parseGroups(text.slice(gap + 2));
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (gap < 0 ? missing !== 0 : missing < 1) return undefined;
  const groups = head;
  for (let i = 0; i < missing; i++) groups.push(0);
  for (const group of tail) groups.push(group);
  return groups;
}

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Colon-separated groups; a trailing dotted IPv4 counts as two groups. */
function parseGroups(text: string): number[] | undefined {
  const parts = text.split(':');
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (HEX_GROUP.test(part)) {
      groups.push(Number.parseInt(part, 16));
      continue;
    }
    const dotted = i === parts.length - 1 ? DOTTED.exec(part) : null;
    if (dotted === null) return undefined;
    const bytes = [Number(dotted[1]), Number(dotted[2]), Number(dotted[3]), Number(dotted[4])];
    if (bytes.some((byte) => byte > 255)) return undefined;
    groups.push((bytes[0] << 8) | bytes[1], (bytes[2] << 8) | bytes[3]);
  }
  return groups;
}
