// The public listener on node:http, not a framework: the data plane is one handler
// with its own router (routes are hot-reloaded), so a framework would only add cost
// (docs/ARCHITECTURE.md has the figures). Parser strictness and every server-side
// timeout are set here, none left at Node's 0 defaults.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { trackConnections } from './drain.ts';
import { endSocketWithError } from './send.ts';

export interface PublicHandlers {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
  /** Decides which Upgrade requests are tunnelled; the others are served as plain requests. */
  readonly shouldUpgrade: (req: IncomingMessage) => boolean;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/**
 * Parser strictness and the server-side timeouts of an HTTP/1.1 listener, plain or TLS:
 * one place, so both listeners refuse and time out alike.
 */
export function http1ServerOptions(server: Config['server']) {
  return {
    insecureHTTPParser: false,
    requireHostHeader: true,
    joinDuplicateHeaders: false,
    maxHeaderSize: server.max_header_size,
    headersTimeout: server.headers_timeout,
    requestTimeout: server.request_timeout,
    keepAliveTimeout: server.keep_alive_timeout,
    connectionsCheckingInterval: Math.min(1000, server.headers_timeout),
  };
}

export function createPublicServer(server: Config['server'], handlers: PublicHandlers): Server {
  const listener = createServer(
    {
      shouldUpgradeCallback: handlers.shouldUpgrade,
      ...http1ServerOptions(server),
    },
    handlers.request,
  );
  listener.on('upgrade', handlers.upgrade);
  // With a listener here Node does not answer `Expect: 100-continue` by itself: the data
  // plane invites the body only once route, policies and the size check have passed, so
  // a request that will be refused is answered without its body being sent.
  listener.on('checkContinue', handlers.request);
  listener.maxConnections = server.max_connections;
  listener.on('clientError', answerClientError);
  trackConnections(listener);
  return listener;
}

/**
 * What the parser refused never reaches the handler: answer it here in the JSON error
 * format and close, so nothing after a malformed message is read as a request.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const code =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  endSocketWithError(socket, new GatewayError(code), randomUUID());
}
