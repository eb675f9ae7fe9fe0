// The ceiling: the least a correct streaming proxy can do on node:http + undici
// (one keep-alive pool, hop-by-hop headers dropped, bodies streamed both ways).
// Whatever the gateway costs beyond this row is policy and framework.
//
// WIRE=whole-chain adds the headers the gateway's whole-chain row puts on the wire, with
// none of the work behind them: a request id and a trace context, X-Forwarded-* and the
// identity headers to the upstream; the request id, CORS and RateLimit headers to the
// client. What that row costs beyond this variant is the gateway's own work.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { HOP_BY_HOP } from './hop-by-hop.ts';

const pool = new Pool(process.env.UPSTREAM!, { keepAliveTimeout: 30_000 });
const wholeChainWire = process.env.WIRE === 'whole-chain';

const server = createServer(async (req, res) => {
  const headers = { ...req.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  const requestId = wholeChainWire ? addRequestHeaders(headers, req.socket.remoteAddress ?? '') : '';
  try {
    const upstream = await pool.request({
      method: req.method as 'GET',
      path: req.url!,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    });
    const out = upstream.headers;
    for (const name of HOP_BY_HOP) delete out[name];
    if (wholeChainWire) Object.assign(out, RESPONSE_HEADERS, { 'x-request-id': requestId });
    res.writeHead(upstream.statusCode, out);
    // pipe, not stream.pipeline: in this bench pipeline(body, res) cost ~40% of req/s.
    upstream.body.on('error', () => res.destroy());
    res.on('close', () => upstream.body.destroy());
    upstream.body.pipe(res);
  } catch {
    if (!res.headersSent) res.writeHead(502).end();
    else res.destroy();
  }
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));

/** The answer's headers in the whole-chain row (bench/scenarios.ts: CORS for one origin, never-reached limits). */
const RESPONSE_HEADERS = {
  vary: 'Origin',
  'access-control-allow-origin': 'https://app.example',
  'access-control-expose-headers':
    'X-Request-ID, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After',
  'ratelimit-limit': '1000000',
  'ratelimit-remaining': '999999',
  'ratelimit-reset': '1',
  'ratelimit-policy': '1000000;w=1',
};

function addRequestHeaders(headers: Record<string, string | string[] | undefined>, peer: string): string {
  // Ids as cheap as Node makes them (randomUUID draws from a buffered pool): one per request.
  const requestId = randomUUID();
  const hex = requestId.replaceAll('-', '');
  headers['x-request-id'] = requestId;
  headers.traceparent = `00-${hex}-${hex.slice(0, 16)}-01`;
  headers['x-forwarded-for'] = peer;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-host'] = headers.host;
  headers['x-user-id'] = 'alice';
  headers['x-user-roles'] = 'admin,user';
  return requestId;
}
