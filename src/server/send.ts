// The gateway's own answers: JSON errors (DESIGN.md format) and small JSON bodies.
import type { ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody, GatewayError, isGatewayError } from '../errors.ts';
import { encodeGrpcMessage, grpcStatusFor } from '../grpc/status.ts';

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: Record<string, string>,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Answers with the error's status and JSON body, or on a gRPC request (`grpc`) with
 * the matching gRPC status, trailers-only. When the response has already started,
 * the only honest signal left is to cut the connection.
 */
export function sendError(
  res: ServerResponse,
  error: unknown,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>> | undefined,
  closeConnection: boolean,
  grpc = false,
): GatewayError {
  const gatewayError = isGatewayError(error) ? error : new GatewayError('INTERNAL_ERROR', { cause: error });
  if (res.headersSent) {
    res.destroy();
    return gatewayError;
  }
  if (grpc) {
    sendGrpcError(res, gatewayError, requestId, extraHeaders, closeConnection);
    return gatewayError;
  }
  const text = errorBody(gatewayError.code, gatewayError.message, requestId);
  const headers: Record<string, string | number> = {
    ...extraHeaders,
    ...gatewayError.headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-request-id': requestId,
  };
  // An unread request body would be parsed as the next request: close instead.
  if (closeConnection) headers.connection = 'close';
  res.writeHead(gatewayError.status, headers);
  res.end(text);
  return gatewayError;
}

/**
 * A gRPC client decodes no JSON: the error is a trailers-only answer (HTTP 200, one
 * HEADERS frame ending the stream) with grpc-status from DESIGN.md and the message
 * and request id in grpc-message. Headers are set without writeHead so that, on
 * HTTP/2, end() sends them as that single frame.
 */
function sendGrpcError(
  res: ServerResponse,
  error: GatewayError,
  requestId: string,
  extraHeaders: Readonly<Record<string, string>> | undefined,
  closeConnection: boolean,
): void {
  res.statusCode = 200;
  for (const [name, value] of Object.entries({ ...extraHeaders, ...error.headers }))
    res.setHeader(name, value);
  res.setHeader('content-type', 'application/grpc');
  res.setHeader('grpc-status', String(grpcStatusFor(error.status)));
  res.setHeader('grpc-message', encodeGrpcMessage(`${error.message} (request id ${requestId})`));
  res.setHeader('x-request-id', requestId);
  if (closeConnection) res.setHeader('connection', 'close');
  res.end();
}

/**
 * The same JSON error written straight onto a socket, for the places where no
 * ServerResponse exists: a message the parser refused, a refused WebSocket handshake.
 * The connection is closed after it, so nothing that follows is read as a request.
 */
export function endSocketWithError(
  socket: Duplex,
  error: GatewayError,
  requestId: string,
  extraHeaders?: Readonly<Record<string, string>>,
): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const body = errorBody(error.code, error.message, requestId);
  let head = `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries({ ...extraHeaders, ...error.headers }))
    head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
  socket.once('finish', () => socket.destroy());
}
