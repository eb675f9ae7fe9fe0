// The public listener on node:http, not a framework: the data plane is one handler
// with its own router (routes are hot-reloaded), so a framework would only add cost
// (docs/ARCHITECTURE.md has the figures). Parser strictness and every server-side
// timeout are set here, none left at Node's 0 defaults.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Http2ServerResponse } from 'node:http2';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Config } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { trackConnections } from './drain.ts';
import { endSocketWithError, sendError } from './send.ts';

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
    // Node's own refusal is a bare 400; request-head.ts refuses a Host-less HTTP/1.1 head
    // in the JSON format instead, on plain requests and WebSocket handshakes alike.
    requireHostHeader: false,
    joinDuplicateHeaders: false,
    maxHeaderSize: server.max_header_size,
    headersTimeout: server.headers_timeout,
    requestTimeout: server.request_timeout,
    keepAliveTimeout: server.keep_alive_timeout,
    connectionsCheckingInterval: Math.min(1000, server.headers_timeout),
  };
}

export function createPublicServer(server: Config['server'], handlers: PublicHandlers): Server {
  const request = onlyHttp1(handlers.request);
  const listener = createServer(
    {
      shouldUpgradeCallback: (req: IncomingMessage) => isHttp1(req) && handlers.shouldUpgrade(req),
      ...http1ServerOptions(server),
    },
    request,
  );
  listener.on('upgrade', handlers.upgrade);
  // With a listener here Node does not answer `Expect: 100-continue` by itself: the data
  // plane invites the body only once route, policies and the size check have passed, so
  // a request that will be refused is answered without its body being sent.
  listener.on('checkContinue', request);
  // Any other expectation: Node's own answer is a bare 417. RFC 9110 10.1.1 lets a server
  // ignore it; Expect is hop-by-hop and never forwarded.
  listener.on('checkExpectation', request);
  listener.on('connect', refuseConnect);
  listener.maxConnections = server.max_connections;
  listener.on('clientError', answerClientError);
  trackConnections(listener);
  return listener;
}

/** HTTP/1.0 or HTTP/1.1: what an HTTP/1 listener serves. */
export function isHttp1(req: IncomingMessage): boolean {
  return req.httpVersionMajor === 1 && (req.httpVersionMinor === 0 || req.httpVersionMinor === 1);
}

/** Sockets whose request line named another HTTP version: nothing after it is served. */
const refusedVersion = new WeakSet<object>();

/**
 * Node's parser also accepts `HTTP/2.0` and a bare `GET /path` (HTTP/0.9) request line.
 * Neither is an HTTP/1.1 message the gateway could forward with one meaning (and the data
 * plane reads any version but 1.x as an HTTP/2 stream): 400 and close, and requests
 * pipelined behind it are not served.
 */
export function onlyHttp1(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (refusedVersion.has(req.socket)) return;
    if (isHttp1(req)) {
      handler(req, res);
      return;
    }
    refusedVersion.add(req.socket);
    const message = `HTTP/${req.httpVersion} is not served on an HTTP/1 connection`;
    sendError(res, new GatewayError('BAD_REQUEST', { message }), randomUUID(), undefined, true);
  };
}

/**
 * The gateway is no forward proxy: CONNECT gets the JSON 400. On HTTP/1 (Node hands over
 * the socket) the connection closes after it; on HTTP/2 only the stream ends. Without
 * this, Node drops an HTTP/1 connection unanswered and answers h2 with a bare 405.
 */
export function refuseConnect(_req: unknown, channel: Duplex | Http2ServerResponse): void {
  const error = new GatewayError('BAD_REQUEST', {
    message: 'CONNECT is not served: the gateway is not a forward proxy',
  });
  if (channel instanceof Http2ServerResponse) {
    sendError(channel as unknown as ServerResponse, error, randomUUID(), undefined, false);
    return;
  }
  channel.on('error', () => channel.destroy());
  afterAnswersInFlight(channel as Socket, () => endSocketWithError(channel, error, randomUUID()));
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
  if (refusing.has(socket)) return;
  refusing.add(socket);
  const code =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  afterAnswersInFlight(socket, () => endSocketWithError(socket, new GatewayError(code), randomUUID()));
}

/** Sockets whose refusal is written or waiting for the answers before it. */
const refusing = new WeakSet<Socket>();

/**
 * Runs `answer` (which writes straight onto the socket) once the answers to the requests
 * before the refused one are done, so the refusal never lands inside one of them or takes
 * its place; pipelined requests are answered in order. An answer whose own request is not
 * complete is the one the refusal is about (a broken body): refused at once if nothing of
 * it was written yet, else cut, so a truncated answer never looks whole.
 */
function afterAnswersInFlight(socket: Socket, answer: () => void): void {
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight == null || socket.destroyed) {
    answer();
    return;
  }
  if (!inFlight.req.complete) {
    if (inFlight.headersSent) socket.destroy();
    else answer();
    return;
  }
  // Node assigns the next pipelined answer to the socket before 'close' is emitted.
  inFlight.once('close', () => afterAnswersInFlight(socket, answer));
}
