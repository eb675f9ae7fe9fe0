// server.redirect_http_port: a plain listener that only ever answers 308 to the same
// URL on https. It never proxies and never reads a request body: a request that has one
// is answered and its connection closed, so the unread bytes are not parsed as a request.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ServerConfig } from '../config/schema.ts';
import { GatewayError } from '../errors.ts';
import { answerClientError } from './public-server.ts';
import { sendError } from './send.ts';

/** host, host:port, [v6] or [v6]:port; anything else is not a Host we redirect to. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

export function createRedirectServer(server: ServerConfig, httpsPort: () => number): Server {
  const listener = createServer(
    {
      insecureHTTPParser: false,
      requireHostHeader: true,
      maxHeaderSize: server.max_header_size,
      headersTimeout: server.headers_timeout,
      requestTimeout: server.request_timeout,
      keepAliveTimeout: server.keep_alive_timeout,
      connectionsCheckingInterval: Math.min(1000, server.headers_timeout),
    },
    (req, res) => redirect(req, res, httpsPort()),
  );
  listener.maxConnections = server.max_connections;
  listener.on('clientError', answerClientError);
  return listener;
}

function redirect(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  const hasBody =
    req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const host = req.headers.host ?? '';
  const target = req.url ?? '';
  if (!HOST.test(host) || !target.startsWith('/') || target.startsWith('//')) {
    sendError(
      res,
      new GatewayError('BAD_REQUEST', { message: 'No Host or request target to redirect to' }),
      randomUUID(),
      undefined,
      hasBody,
    );
    return;
  }
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  const authority = httpsPort === 443 ? name : `${name}:${httpsPort}`;
  const headers: Record<string, string | number> = {
    location: `https://${authority}${target}`,
    'content-length': 0,
    'cache-control': 'no-store',
  };
  if (hasBody) headers.connection = 'close';
  res.writeHead(308, headers);
  res.end();
}
