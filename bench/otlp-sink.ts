// The OTLP/HTTP collector for the tracing rows: accepts POST /v1/traces, reads the
// body and answers 200 `{}`, as a collector that keeps up would. Outside the measured
// process, like the upstream.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    res.end('{}');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
