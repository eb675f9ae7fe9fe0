// The gRPC rows' loader (wrk and autocannon speak HTTP/1.1 only): in its own process,
// `connections` h2c sessions, each keeping `streams` unary calls in flight, for
// `duration` seconds. A call counts only if it ends with grpc-status 0; prints the
// LoadResult as JSON.
//   node bench/grpc-load.ts URL CONNECTIONS DURATION_S STREAMS_PER_CONNECTION
import { connect } from 'node:http2';
import { grpcCall } from './grpc-request.ts';

const [url, connectionsText, durationText, streamsText] = process.argv.slice(2);
const connections = Number(connectionsText);
const durationMs = Number(durationText) * 1000;
const streams = Number(streamsText);
const target = new URL(url);
const latencies: number[] = [];
let errors = 0;
let stopAt = 0;

async function session(): Promise<void> {
  const client = connect(target.origin);
  client.on('error', () => errors++);
  await new Promise((resolve) => client.once('connect', resolve));
  const lane = async () => {
    while (performance.now() < stopAt) {
      const started = performance.now();
      if (await grpcCall(client, target.pathname)) latencies.push(performance.now() - started);
      else errors++;
    }
  };
  await Promise.all(Array.from({ length: streams }, lane));
  client.close();
}

stopAt = performance.now() + durationMs;
const started = performance.now();
await Promise.all(Array.from({ length: connections }, session));
const elapsedS = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
process.stdout.write(
  JSON.stringify({
    reqPerSec: latencies.length / elapsedS,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length,
    errors,
  }),
);
