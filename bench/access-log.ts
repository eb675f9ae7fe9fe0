// The CPU cost of one access-log line, in isolation: `node bench/access-log.ts`.
// Compares the access log's own serializer and the batching log writer with pino and its
// destination (without redaction, as the access log ran before, and with it, as the
// general logger runs), all writing asynchronously to /dev/null, on the fields the data
// plane logs.
import { openSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { AccessLog } from '../src/observability/access-log.ts';
import { LogWriter } from '../src/observability/log-writer.ts';
import type { ForwardOutcome } from '../src/proxy/forward.ts';
import type { CompiledRoute } from '../src/runtime/build.ts';
import { RequestState } from '../src/server/request-state.ts';

const destination = pino.destination({ dest: '/dev/null', sync: false });
const options = {
  level: 'info',
  base: { pid: process.pid },
  timestamp: pino.stdTimeFunctions.isoTime,
  formatters: { level: (label: string) => ({ level: label }) },
};
const plainPino = pino(options, destination);
const redactingPino = pino(
  { ...options, redact: { paths: ['authorization', '*.authorization'], censor: '[redacted]' } },
  destination,
);
const accessLog = new AccessLog({ level: 'info', destination });
const accessLogBatched = new AccessLog({
  level: 'info',
  destination: new LogWriter(openSync('/dev/null', 'w')),
});

const req = { method: 'GET', url: '/api/hello', headers: {} } as unknown as IncomingMessage;
const state = new RequestState(
  req,
  'b3c1e2a0-1111-2222-3333-444455556666',
  '0af7651916cd43dd8448eb211c80319c',
  '127.0.0.1',
  plainPino,
  new Set(),
);
state.matchedRoute = { name: '/api', serviceName: 'upstream' } as CompiledRoute;
state.identity = { userId: 'alice', roles: [] };
const outcome: ForwardOutcome = {
  instance: 'http://127.0.0.1:39111',
  attempts: 1,
  upstreamMs: 0.98,
  responseBytes: 53,
};
const fields = () => ({
  request_id: state.requestId,
  trace_id: state.traceId,
  method: 'GET',
  path: '/api/hello',
  route: '/api',
  service: 'upstream',
  instance: outcome.instance,
  attempts: 1,
  status: 200,
  duration_ms: 1.23,
  upstream_ms: 0.98,
  request_bytes: undefined,
  response_bytes: 53,
  client_ip: '127.0.0.1',
  user_id: 'alice',
});

const LINES = 200_000;
const variants: Array<[string, () => void]> = [
  ['access log serializer + log writer', () => accessLogBatched.record(state, 200, outcome)],
  ['access log serializer + pino destination', () => accessLog.record(state, 200, outcome)],
  ['pino, no redaction', () => plainPino.info(fields(), 'request')],
  ['pino, redacting', () => redactingPino.info(fields(), 'request')],
];
for (const [name, log] of variants) {
  // In batches of 1000, yielding between them as the event loop would between requests.
  const run = async (lines: number) => {
    for (let done = 0; done < lines; done += 1000) {
      for (let i = 0; i < 1000; i++) log();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  await run(20_000); // warm-up
  // CPU time rather than wall time: it holds up when other work shares the machine.
  const started = process.cpuUsage();
  await run(LINES);
  const used = process.cpuUsage(started);
  console.log(`${name}: ${((used.user + used.system) / LINES).toFixed(2)} µs of CPU a line`);
}
