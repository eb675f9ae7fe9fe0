// The public listener on node:http, not a framework: the data plane is one handler
// with its own router (routes are hot-reloaded), and the benchmark showed a framework
// costing more than the contract allows (docs/ARCHITECTURE.md). Parser strictness
// and every server-side timeout are set here, none left at Node's 0 defaults.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { ERROR_CATALOG, type ErrorCode, errorBody } from '../errors.ts';

export interface PublicHandlers {
  readonly request: (req: IncomingMessage, res: ServerResponse) => void;
  /** Decides which Upgrade requests are tunnelled; the others are served as plain requests. */
  readonly shouldUpgrade: (req: IncomingMessage) => boolean;
  readonly upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

export function createPublicServer(server: Config['server'], handlers: PublicHandlers): Server {
  const listener = createServer(
    {
      shouldUpgradeCallback: handlers.shouldUpgrade,
      insecureHTTPParser: false,
      requireHostHeader: true,
      joinDuplicateHeaders: false,
      maxHeaderSize: server.max_header_size,
      headersTimeout: server.headers_timeout,
      requestTimeout: server.request_timeout,
      keepAliveTimeout: server.keep_alive_timeout,
      connectionsCheckingInterval: Math.min(1000, server.headers_timeout),
    },
    handlers.request,
  );
  listener.on('upgrade', handlers.upgrade);
  listener.maxConnections = server.max_connections;
  listener.on('clientError', answerClientError);
  return listener;
}

/**
 * What the parser refused never reaches the handler: answer it here in the JSON error
 * format and close, so nothing after a malformed message is read as a request.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code: ErrorCode =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  const requestId = randomUUID();
  const body = errorBody(code, ERROR_CATALOG[code].message, requestId);
  const { status } = ERROR_CATALOG[code];
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
  );
  socket.destroySoon?.();
}

function statusText(status: number): string {
  return status === 431
    ? 'Request Header Fields Too Large'
    : status === 408
      ? 'Request Timeout'
      : 'Bad Request';
}
