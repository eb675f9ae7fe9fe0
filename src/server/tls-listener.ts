// The public listener over TLS: HTTPS/1.1 alone (server.http2: false) or, by ALPN, h2 and
// http/1.1 on one port through node:http2's compatibility API, which hands the data
// plane request/response objects shaped like node:http's. Both paths get the same
// parser strictness and timeouts as the plain listener (public-server.ts).
//
// Certificates come from a CertificateSelector read at every handshake (SNICallback),
// and the server's default context is replaced with it: `setMaterial` serves new
// handshakes with new certificates while open connections keep the session they have.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  Http2ServerRequest,
  Http2ServerResponse,
} from 'node:http2';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Server as NetServer, Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { ServerConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import type { ServerTlsMaterial } from '../tls/certificates.ts';
import { CertificateSelector, contextOptions } from '../tls/sni.ts';
import { type Http2Events, http2SessionOptions, sessionGuardFor } from './http2-guard.ts';
import {
  answerClientError,
  http1ServerOptions,
  isHttp1,
  onlyHttp1,
  type PublicHandlers,
  refuseConnect,
} from './public-server.ts';
import { sendError } from './send.ts';

/** What main needs of any public listener to serve and to drain. */
export interface PublicListener extends NetServer {
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

export interface TlsListener {
  readonly server: PublicListener;
  /** The certificates in force. */
  readonly selector: CertificateSelector;
  /** New handshakes get these certificates; open connections keep theirs. */
  setMaterial(material: ServerTlsMaterial): void;
}

export function createTlsPublicServer(
  server: ServerConfig,
  material: ServerTlsMaterial,
  handlers: PublicHandlers,
  events: Http2Events = {},
): TlsListener {
  let selector = new CertificateSelector(material);
  const hsts = server.hsts ? `max-age=${hstsSeconds(server.hsts)}` : undefined;
  const mutualTls = material.clientCa !== undefined;
  const tlsOptions = {
    ...contextOptions(selector.defaultCertificate, material),
    SNICallback(servername: string, callback: (error: Error | null, context?: SecureContext) => void) {
      callback(null, selector.select(servername));
    },
    requestCert: mutualTls,
    rejectUnauthorized: mutualTls,
  };
  const http1Options = http1ServerOptions(server);

  const http1Request = onlyHttp1(handlers.request);
  const onRequest = (
    req: IncomingMessage | Http2ServerRequest,
    res: ServerResponse | Http2ServerResponse,
  ) => {
    if (hsts !== undefined) res.setHeader('strict-transport-security', hsts);
    if (req instanceof Http2ServerRequest) {
      if (adaptHttp2Request(req, res as Http2ServerResponse))
        handlers.request(req as unknown as IncomingMessage, res as unknown as ServerResponse);
      return;
    }
    http1Request(req, res as ServerResponse);
  };
  // As on the plain listener (public-server.ts): over HTTP/1.1 and h2 alike, the
  // forwarder invites a `100-continue` body only once route, policies and size passed.
  let listener: HttpsServer | Http2SecureServer;
  if (server.http2) {
    const h2 = createSecureServer({
      ...tlsOptions,
      ...http1Options,
      allowHTTP1: true,
      ...http2SessionOptions(server),
      Http2ServerResponse: GatewayHttp2Response as typeof Http2ServerResponse,
    });
    h2.on('request', onRequest);
    h2.on('session', sessionGuardFor(server, events));
    listener = h2;
  } else {
    listener = createHttpsServer({ ...tlsOptions, ...http1Options }, onRequest);
  }
  // Set after construction: the http2 server installs its own for the HTTP/1.1 path.
  (listener as unknown as { shouldUpgradeCallback: PublicHandlers['shouldUpgrade'] }).shouldUpgradeCallback =
    (req) => isHttp1(req) && handlers.shouldUpgrade(req);
  listener.on('upgrade', handlers.upgrade);
  listener.on('checkContinue', onRequest);
  listener.on('checkExpectation', onRequest);
  listener.on('connect', refuseConnect);
  listener.maxConnections = server.max_connections;
  listener.on('clientError', answerTlsClientError);

  // Every TLS socket, h2 or not, so a drain deadline can cut them all.
  const sockets = new Set<TLSSocket>();
  listener.on('secureConnection', (socket: TLSSocket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  // Session tickets: one random key, replaced on a timer, so a stolen key opens little.
  listener.setTicketKeys(randomBytes(48));
  const ticketRotation = setInterval(
    () => listener.setTicketKeys(randomBytes(48)),
    server.tls?.ticket_key_rotation ?? 12 * 3_600_000,
  ).unref();
  listener.once('close', () => clearInterval(ticketRotation));

  // The http2 server has no closeAllConnections and cuts only HTTP/1.1 idle ones.
  const closeIdle = (listener as HttpsServer).closeIdleConnections.bind(listener);
  const publicListener = Object.assign(listener as unknown as PublicListener, {
    closeIdleConnections: closeIdle,
    closeAllConnections() {
      for (const socket of sockets) socket.destroy();
    },
  });

  return {
    server: publicListener,
    get selector() {
      return selector;
    },
    setMaterial(next) {
      const replacement = new CertificateSelector(next);
      // Clients without SNI get the server's default context: replace it too.
      listener.setSecureContext(contextOptions(replacement.defaultCertificate, next));
      selector = replacement;
    },
  };
}

/**
 * An HTTP/2 response as the data plane expects one: `destroyed` like a ServerResponse,
 * and connection-specific headers (HTTP/1.1's `Connection: close` on an error, while
 * draining) dropped quietly instead of warned about: HTTP/2 closes with GOAWAY.
 */
export class GatewayHttp2Response extends Http2ServerResponse {
  override setHeader(name: string, value: number | string | readonly string[]): this {
    if (name.toLowerCase() !== 'connection') super.setHeader(name, value);
    return this;
  }

  override writeHead(statusCode: number, ...rest: unknown[]): this {
    const headers = rest[rest.length - 1];
    if (Array.isArray(headers)) {
      rest[rest.length - 1] = withoutConnection(headers as string[]);
    } else if (headers && typeof headers === 'object' && 'connection' in headers) {
      const { connection: _dropped, ...kept } = headers as Record<string, unknown>;
      rest[rest.length - 1] = kept;
    }
    return (super.writeHead as (status: number, ...args: unknown[]) => this)(statusCode, ...rest);
  }
}

/** A flat [name, value, …] list without its Connection fields (kept as is when it has none). */
function withoutConnection(flat: string[]): string[] {
  let found = false;
  for (let i = 0; i < flat.length; i += 2) if (flat[i].toLowerCase() === 'connection') found = true;
  if (!found) return flat;
  const kept: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i].toLowerCase() !== 'connection') kept.push(flat[i], flat[i + 1]);
  }
  return kept;
}

// Node's Http2ServerResponse has no `destroyed`; the forwarder reads it to send nothing
// for a client that left.
Object.defineProperty(GatewayHttp2Response.prototype, 'destroyed', {
  get(this: Http2ServerResponse) {
    return this.stream.destroyed;
  },
});

/**
 * Fits an h2 request to what the data plane reads off an HTTP/1.1 one, or answers 400:
 * - `:authority` and a Host header must agree (RFC 9113 8.3.1); Host is filled from
 *   `:authority` so routing and X-Forwarded-Host read one field. Pseudo-headers never
 *   reach the upstream: the forwarder drops every name starting with `:`.
 * - An h2 body needs no Content-Length. One without it is marked as HTTP/1.1 marks a
 *   body of unknown length (chunked), so the forwarder streams it under body_limit.
 *   Transfer-Encoding is hop-by-hop and never forwarded.
 */
export function adaptHttp2Request(req: Http2ServerRequest, res: Http2ServerResponse): boolean {
  const headers = req.headers;
  const authority = headers[':authority'];
  const host = headers.host;
  if (authority !== undefined && host !== undefined && authority !== host) {
    refuse(res, ':authority and Host name different hosts');
    return false;
  }
  if (host === undefined) {
    if (authority === undefined) {
      refuse(res, 'the request names no host (:authority)');
      return false;
    }
    headers.host = authority;
  }
  if (!req.stream.endAfterHeaders && headers['content-length'] === undefined) {
    headers['transfer-encoding'] = 'chunked';
  }
  return true;
}

function refuse(res: Http2ServerResponse, message: string): void {
  sendError(
    res as unknown as ServerResponse,
    new GatewayError('BAD_REQUEST', { message }),
    randomUUID(),
    undefined,
    false,
  );
}

/** A failed handshake gets no HTTP answer; a parser error on an established one does. */
function answerTlsClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  const code = error.code ?? '';
  if (code.startsWith('HPE_') || code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    answerClientError(error, socket);
    return;
  }
  socket.destroy();
}

export function hstsSeconds(text: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(text)!;
  return Number(match[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 's' | 'm' | 'h' | 'd'];
}
