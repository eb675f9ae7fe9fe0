// The gRPC rows' loader (wrk and autocannon speak HTTP/1.1 only): in its own process,
// `connections` h2c sessions, each keeping `streams` unary calls in flight, for
// `duration` seconds. A call counts only if it ends with grpc-status 0; prints the
// LoadResult as JSON.
//   node bench/grpc-load.ts URL CONNECTIONS DURATION_S STREAMS_PER_CONNECTION
import { grpcCall } from './grpc-request.ts';
import { runH2Sessions } from './h2-load-loop.ts';

const [url, connectionsText, durationText, streamsText] = process.argv.slice(2);
const target = new URL(url);
const result = await runH2Sessions({
  target,
  connections: Number(connectionsText),
  streams: Number(streamsText),
  durationMs: Number(durationText) * 1000,
  call: (session) => grpcCall(session, target.pathname),
});
process.stdout.write(JSON.stringify(result));
