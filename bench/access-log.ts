// The cost of one access-log line, in isolation: `node bench/access-log.ts`.
// Compares the access logger (no redaction) with the redacting general logger, both
// writing asynchronously to /dev/null, on the fields the data plane logs.
import { pino } from 'pino';
import { createLoggers } from '../src/observability/logger.ts';

const destination = pino.destination({ dest: '/dev/null', sync: false });
const { accessLog, logger } = createLoggers('info', destination);
const fields = () => ({
  request_id: 'b3c1e2a0-1111-2222-3333-444455556666',
  trace_id: '0af7651916cd43dd8448eb211c80319c',
  method: 'GET',
  path: '/api/hello',
  route: '/api',
  service: 'upstream',
  instance: 'http://127.0.0.1:39111',
  attempts: 1,
  status: 200,
  duration_ms: 1.23,
  upstream_ms: 0.98,
  request_bytes: undefined,
  response_bytes: 53,
  client_ip: '127.0.0.1',
  user_id: undefined,
});

const LINES = 200_000;
for (const [name, log] of [
  ['access log (no redaction)', accessLog],
  ['general logger (redacting)', logger],
] as const) {
  for (let i = 0; i < 20_000; i++) log.info(fields(), 'request'); // warm-up
  const started = performance.now();
  for (let i = 0; i < LINES; i++) log.info(fields(), 'request');
  const perLine = ((performance.now() - started) * 1000) / LINES;
  console.log(`${name}: ${perLine.toFixed(2)} µs a line`);
}
