// What the startup line says about a listener: a URL to try, and in words where it
// really listens. A wildcard bind (0.0.0.0, ::) is not an address anyone can connect
// to, so it is described as "all interfaces" with the machine's own addresses listed.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';

export interface ListenAddress {
  /** A URL a client on this machine can use (loopback for a wildcard bind). */
  readonly url: string;
  /** e.g. "http://127.0.0.1:8080", or "all interfaces, e.g. http://127.0.0.1:8080 http://10.0.0.5:8080". */
  readonly description: string;
}

export function describeListener(server: Server, scheme = 'http'): ListenAddress {
  const { address, family, port } = server.address() as AddressInfo;
  const format = (host: string) => `${scheme}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const wildcard = address === '0.0.0.0' || address === '::';
  if (!wildcard) {
    const url = format(address);
    return { url, description: url };
  }
  const ipv6 = address === '::';
  const loopback = ipv6 && family === 'IPv6' ? '::1' : '127.0.0.1';
  const others: string[] = [];
  for (const entries of Object.values(networkInterfaces())) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      // A 0.0.0.0 bind serves IPv4 only; :: serves both on a dual-stack host.
      if (entry.family === 'IPv4' || (ipv6 && !entry.address.startsWith('fe80:')))
        others.push(format(entry.address));
    }
  }
  const url = format(loopback);
  return { url, description: `all interfaces, e.g. ${[url, ...others.slice(0, 4)].join(' ')}` };
}
