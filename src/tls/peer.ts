// What a request knows about its transport: whether it came over HTTPS (the gateway's
// own TLS, or a trusted proxy's X-Forwarded-Proto), and the subject of a client
// certificate the handshake verified.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { TLSSocket } from 'node:tls';

export type Scheme = 'http' | 'https';

/**
 * The scheme a request arrived with, as the client used it. A peer in trusted_proxies
 * terminated the client's connection itself, so its X-Forwarded-Proto (first value:
 * the hop nearest the client) is kept; anyone else's is ignored and the gateway's own
 * socket decides.
 */
export function createSchemeResolver(
  trustsPeer: (peer: string) => boolean,
): (peer: string, forwardedProto: string | string[] | undefined, ownTls: boolean) => Scheme {
  return (peer, forwardedProto, ownTls) => {
    const own: Scheme = ownTls ? 'https' : 'http';
    if (forwardedProto === undefined || !trustsPeer(peer)) return own;
    const first = (Array.isArray(forwardedProto) ? forwardedProto[0] : forwardedProto)
      .split(',')[0]
      .trim()
      .toLowerCase();
    return first === 'https' ? 'https' : first === 'http' ? 'http' : own;
  };
}

/** The TLS socket under a request (HTTP/1.1 or h2), or undefined on plain HTTP. */
export function tlsSocketOf(req: IncomingMessage | Http2ServerRequest): TLSSocket | undefined {
  const socket =
    'stream' in req && req.stream !== undefined
      ? (req.stream.session?.socket as TLSSocket | undefined)
      : ((req as IncomingMessage).socket as TLSSocket);
  return socket?.encrypted === true ? socket : undefined;
}

const subjects = new WeakMap<TLSSocket, string | undefined>();

/**
 * The subject of the client certificate the handshake verified ("CN=alice, O=Example"),
 * or undefined when none was verified. Read once per connection.
 */
export function verifiedClientSubject(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  if (subjects.has(socket)) return subjects.get(socket);
  const subject = socket.getPeerX509Certificate()?.subject.split('\n').join(', ');
  subjects.set(socket, subject);
  return subject;
}
