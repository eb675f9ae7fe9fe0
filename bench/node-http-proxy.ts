// The peer: node-http-proxy, the long-standing Node reverse proxy. Given a keep-alive
// agent, because its default opens a connection per request and would lose for that
// reason alone.
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const proxy = httpProxy.createProxyServer({
  target: process.env.UPSTREAM,
  agent: new Agent({ keepAlive: true }),
});
proxy.on('error', (_error, _req, res) => {
  if ('writeHead' in res && !res.headersSent) res.writeHead(502).end();
  else res.destroy();
});

const server = createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
