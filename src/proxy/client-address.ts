// Who the client is, for rate limits and logs. Anyone can write X-Forwarded-For, so it
// is read only when the TCP peer is one of server.trusted_proxies; then the hops are
// walked right to left (the right-most ones were appended by our own proxies) and the
// first untrusted one is the client. Everything to its left was written by the client
// and is ignored, so rotating it never escapes a rate limit.
//
// Which header: X-Forwarded-For when present (every mainstream proxy appends to it),
// else RFC 7239 Forwarded. A proxy that writes only Forwarded and passes a client's
// X-Forwarded-For through untouched would let that client choose its address; such a
// setup needs a config key naming the header (not in the schema yet). X-Real-IP is
// never read: it carries one unverifiable value.
import type { IncomingHttpHeaders } from 'node:http';
import { isIP } from 'node:net';
import { createCidrList, unmapAddress as unmapPeer } from './cidr-list.ts';

export type ClientAddressResolver = (peerAddress: string, headers: IncomingHttpHeaders) => string;

/**
 * Builds the resolver for a list of trusted proxy addresses and CIDRs (IPv4 or IPv6).
 * Throws on an entry that is not an address or CIDR, so a bad config fails at load.
 */
export function createClientAddressResolver(trustedProxies: readonly string[]): ClientAddressResolver {
  // Nobody is trusted: the peer is the client, and no header is even looked at.
  if (trustedProxies.length === 0) return unmapPeer;

  const isTrusted = createCidrList(trustedProxies, 'trusted_proxies');

  // Walks a comma-separated list right to left. A hop that is not an address (garbage,
  // `unknown`, an obfuscated name) ends the walk: nothing left of it can be trusted, so
  // the last good address (a trusted proxy, or the peer) is the best answer. Empty
  // elements are skipped, as HTTP list syntax allows them.
  const walk = (list: string, peer: string, parseHop: (element: string) => string | undefined): string => {
    let current = peer;
    let end = list.length;
    while (end > 0) {
      const comma = list.lastIndexOf(',', end - 1);
      const element = list.slice(comma + 1, end).trim();
      end = comma;
      if (element === '') continue;
      const hop = parseHop(element);
      if (hop === undefined) return current;
      current = hop;
      if (!isTrusted(hop)) return hop;
    }
    return current;
  };

  return (peerAddress, headers) => {
    const peer = unmapPeer(peerAddress);
    if (isIP(peer) === 0 || !isTrusted(peer)) return peer;
    const forwardedFor = headers['x-forwarded-for'];
    if (forwardedFor !== undefined) return walk(joinList(forwardedFor), peer, parseAddress);
    const forwarded = headers.forwarded;
    if (forwarded !== undefined) return walk(joinList(forwarded), peer, parseForwardedElement);
    return peer;
  };
}

function joinList(value: string | string[]): string {
  return typeof value === 'string' ? value : value.join(',');
}

/** `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:443` -> the address. */
function parseAddress(text: string): string | undefined {
  let address = text;
  if (address.charCodeAt(0) === 91 /* [ */) {
    const close = address.indexOf(']');
    if (close < 0) return undefined;
    const rest = address.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    address = address.slice(1, close);
    return isIP(address) === 6 ? unmapPeer(address) : undefined;
  }
  const colon = address.indexOf(':');
  // One colon: IPv4 with a port. More: a bare IPv6 address (which cannot carry a port).
  if (colon >= 0 && address.indexOf(':', colon + 1) < 0) {
    if (!/^\d{1,5}$/.test(address.slice(colon + 1))) return undefined;
    address = address.slice(0, colon);
  }
  const family = isIP(address);
  if (family === 0) return undefined;
  return family === 6 ? unmapPeer(address) : address;
}

/** One RFC 7239 element (`for=192.0.2.1;proto=https;by=...`) -> its `for` address. */
function parseForwardedElement(element: string): string | undefined {
  for (const pair of element.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0) continue;
    if (pair.slice(0, equals).trim().toLowerCase() !== 'for') continue;
    let value = pair.slice(equals + 1).trim();
    if (
      value.length >= 2 &&
      value.charCodeAt(0) === 34 /* " */ &&
      value.charCodeAt(value.length - 1) === 34
    ) {
      value = value.slice(1, -1);
    }
    // An IPv6 `for` must be bracketed and quoted; accept it unquoted too, it is unambiguous.
    return parseAddress(value);
  }
  return undefined;
}
