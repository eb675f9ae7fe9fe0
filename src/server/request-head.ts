// Checks on a request head that Node's parser accepts but a gateway must not forward
// with two meanings. Each one runs before routing, so nothing is matched or forwarded
// on a head the gateway could misread.
import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { GatewayError } from '../errors.ts';

/**
 * `host [":" port]` (RFC 9112 3.2, RFC 3986 3.2.2): a reg-name (which covers IPv4) or
 * an IP-literal in brackets; a port of 1-5 digits, at most 65535.
 */
const HOST =
  /^(?:\[([0-9A-Za-z:.%_~-]+)\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::([0-9]{1,5}))?$/;
const IP_FUTURE = /^v[0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+$/;

/**
 * The GatewayError a head deserves, or undefined when it is fine. The connection of a
 * refused head is closed: what follows it on the socket can't be trusted to be framed
 * the way the client meant.
 */
export function refuseRequestHead(req: IncomingMessage): GatewayError | undefined {
  const codings = req.headers['transfer-encoding'];
  return refuseHost(req) ?? (codings === undefined ? undefined : refuseTransferCoding(req, codings));
}

function refuseHost(req: IncomingMessage): GatewayError | undefined {
  const host = req.headers.host;
  // RFC 9112 3.2: an HTTP/1.1 request without Host is refused; HTTP/1.0 may go without.
  // (Node's own requireHostHeader check is off: its refusal is a bare 400, not the JSON one.)
  if (host === undefined) {
    if (req.httpVersionMajor !== 1 || req.httpVersionMinor === 0) return undefined;
    return new GatewayError('BAD_REQUEST', { message: 'An HTTP/1.1 request must carry a Host header' });
  }
  const raw = req.rawHeaders;
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === 4 && name.toLowerCase() === 'host' && ++count > 1) {
      return new GatewayError('BAD_REQUEST', { message: 'The request carries more than one Host header' });
    }
  }
  if (!isValidHost(host)) {
    return new GatewayError('BAD_REQUEST', { message: 'The Host header is not a valid host[:port]' });
  }
  return undefined;
}

export function isValidHost(host: string): boolean {
  const match = HOST.exec(host);
  if (match === null) return false;
  const literal = match[1];
  if (literal !== undefined && !isIPv6(literal) && !IP_FUTURE.test(literal)) return false;
  const port = match[2];
  return port === undefined || Number(port) <= 65535;
}

/**
 * Node's parser has already refused a body whose last coding is not chunked. What it
 * lets through: HTTP/1.0 with Transfer-Encoding, which RFC 9112 6.1 says to treat as
 * faulty framing (the gateway refuses it and closes), and codings before chunked
 * (`gzip, chunked`) that the gateway would have to decode to forward honestly (501).
 */
function refuseTransferCoding(req: IncomingMessage, codings: string): GatewayError | undefined {
  if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) {
    return new GatewayError('BAD_REQUEST', {
      message: 'An HTTP/1.0 request cannot be framed with Transfer-Encoding',
    });
  }
  if (codings.length === 7 && codings.toLowerCase() === 'chunked') return undefined;
  if (codings.trim().toLowerCase() === 'chunked') return undefined;
  return new GatewayError('NOT_IMPLEMENTED', {
    message: `The gateway cannot decode the transfer coding "${codings}"; send the body chunked only`,
  });
}
