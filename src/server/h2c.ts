// HTTP/2 over cleartext with prior knowledge (h2c, RFC 9113 3.3) on the plain listener,
// next to HTTP/1.1: how gRPC clients inside a cluster (grpc-js's insecure credentials)
// reach the gateway. The first bytes of each connection decide: the HTTP/2 connection
// preface goes to an http2 server that is never bound itself, anything else to the
// HTTP/1.1 server as before. The h2 side serves requests through the same handler,
// request adaptation and response class as the TLS listener's h2, and the same
// per-connection guard (rapid reset, idle timeout), so routes, policies, logs and
// errors are the same whichever way a request came in.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import {
  createServer as createH2Server,
  Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { ServerConfig } from '../config/schema.ts';
import { DRAIN_EVENT } from './drain.ts';
import { type Http2Events, http2SessionOptions, sessionGuardFor } from './http2-guard.ts';
import { type PublicHandlers, refuseConnect } from './public-server.ts';
import { adaptHttp2Request, GatewayHttp2Response } from './tls-listener.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Makes `http1` (the plain public listener) also serve h2c connections. */
export function acceptPriorKnowledgeH2(
  http1: Server,
  server: ServerConfig,
  handlers: PublicHandlers,
  events: Http2Events = {},
): void {
  const h2 = createH2Server({
    ...http2SessionOptions(server),
    Http2ServerResponse: GatewayHttp2Response as unknown as typeof Http2ServerResponse,
  });
  const onRequest = (req: Http2ServerRequest, res: Http2ServerResponse) => {
    if (req instanceof Http2ServerRequest && !adaptHttp2Request(req, res)) return;
    handlers.request(req as unknown as IncomingMessage, res as unknown as ServerResponse);
  };
  h2.on('request', onRequest);
  // As on HTTP/1.1: the forwarder invites a `100-continue` body once route, policies and
  // size passed (Node would send the 100 first), and any other Expect is served, not 417.
  h2.on('checkContinue', onRequest);
  h2.on('checkExpectation', onRequest);
  h2.on('connect', refuseConnect);
  const guard = sessionGuardFor(server, events);
  const sessions = new Set<ServerHttp2Session>();
  h2.on('session', (session: ServerHttp2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
    guard(session);
  });

  const serveHttp1 = http1.listeners('connection') as ((socket: Socket) => void)[];
  http1.removeAllListeners('connection');
  http1.on('connection', (socket: Socket) => {
    // A connection that sends nothing is cut like one whose headers never come.
    const timer = setTimeout(() => socket.destroy(), server.headers_timeout);
    let seen: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
      const compared = Math.min(seen.length, PREFACE.length);
      const matches = seen.subarray(0, compared).equals(PREFACE.subarray(0, compared));
      // "PRI" needs three bytes to tell it from POST, PUT, PATCH or PROPFIND.
      if (matches && compared < PREFACE.length) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', onEarlyError);
      socket.pause();
      socket.unshift(seen);
      if (matches) h2.emit('connection', socket);
      else for (const listener of serveHttp1) listener.call(http1, socket);
      process.nextTick(() => socket.resume());
    };
    const onEarlyError = () => {
      clearTimeout(timer);
      socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', onEarlyError);
    socket.once('close', () => clearTimeout(timer));
  });

  // Draining: every h2c connection gets GOAWAY (its streams in flight finish), and the
  // drain deadline's closeAllConnections cuts what is left.
  http1.on(DRAIN_EVENT, () => {
    for (const session of sessions) session.close();
  });
  const closeIdle = http1.closeIdleConnections.bind(http1);
  const closeAll = http1.closeAllConnections.bind(http1);
  http1.closeIdleConnections = () => {
    closeIdle();
    for (const session of sessions) session.close();
  };
  http1.closeAllConnections = () => {
    closeAll();
    for (const session of sessions) session.destroy();
  };
}
