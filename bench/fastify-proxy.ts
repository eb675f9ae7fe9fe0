// What a framework costs: the bare proxy's work (undici pool, streamed bodies) behind
// a Fastify catch-all route, which is how DESIGN.md's default data plane is shaped.
import Fastify from 'fastify';
import { Pool } from 'undici';
import { HOP_BY_HOP } from './hop-by-hop.ts';

const pool = new Pool(process.env.UPSTREAM!, { keepAliveTimeout: 30_000 });

const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
// Leave request bodies unparsed so they can be streamed upstream from req.raw.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_req, _payload, done) => done(null));

app.all('/*', async (request, reply) => {
  const headers = { ...request.headers };
  for (const name of HOP_BY_HOP) delete headers[name];
  const method = request.method;
  const upstream = await pool.request({
    method: method as 'GET',
    path: request.url,
    headers,
    body: method === 'GET' || method === 'HEAD' ? null : request.raw,
  });
  const out = upstream.headers;
  for (const name of HOP_BY_HOP) delete out[name];
  return reply.code(upstream.statusCode).headers(out).send(upstream.body);
});

await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
process.on('SIGTERM', () => process.exit(0));
