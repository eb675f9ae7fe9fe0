// The upstream every bench row ends at: as cheap as node:http allows, so the rows
// differ only by the proxy in front of it. Keep-alive longer than any proxy pool's
// idle timeout, so pools never race a server-side close during a run.
import { createServer } from 'node:http';

const BODY = JSON.stringify({ ok: true, message: 'hello from the bench upstream' });
const HEADERS = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY) };

const server = createServer((req, res) => {
  req.resume(); // drain any request body without looking at it
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
