// The ceiling: the least a correct streaming proxy can do on node:http + undici
// (one keep-alive pool, hop-by-hop headers dropped, bodies streamed both ways).
// Whatever the gateway costs beyond this row is policy and framework.
import { createServer } from 'node:http';
import { Pool } from 'undici';
import { HOP_BY_HOP } from './hop-by-hop.ts';

const pool = new Pool(process.env.UPSTREAM!, { keepAliveTimeout: 30_000 });

const server = createServer(async (req, res) => {
  const headers = { ...req.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  try {
    const upstream = await pool.request({
      method: req.method as 'GET',
      path: req.url!,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? null : req,
    });
    const out = upstream.headers;
    for (const name of HOP_BY_HOP) delete out[name];
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
