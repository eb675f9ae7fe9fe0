// An HTTP/2 saturation run for the h2 row: wrk and autocannon speak HTTP/1.1 only. Runs
// in its own process (as the other loaders do): `connections` sessions, each keeping
// `streams` requests in flight, for `duration` seconds; prints the LoadResult as JSON.
// TLS certificates are not verified here: the loader measures a local gateway it started.
//   node bench/h2-load.ts URL CONNECTIONS DURATION_S STREAMS_PER_CONNECTION [HEADERS_JSON]
import { connect } from 'node:http2';

const [url, connectionsText, durationText, streamsText, headersText] = process.argv.slice(2);
const connections = Number(connectionsText);
const durationMs = Number(durationText) * 1000;
const streams = Number(streamsText);
const extraHeaders = headersText ? (JSON.parse(headersText) as Record<string, string>) : {};
const target = new URL(url);
const latencies: number[] = [];
let errors = 0;
let stopAt = 0;

async function session(): Promise<void> {
  const client = connect(target.origin, { rejectUnauthorized: false });
  client.on('error', () => errors++);
  await new Promise((resolve) => client.once('connect', resolve));
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const started = performance.now();
      const stream = client.request({ ':path': target.pathname + target.search, ...extraHeaders });
      let status = 0;
      stream.on('response', (headers) => {
        status = Number(headers[':status']);
      });
      stream.on('data', () => {});
      stream.on('end', () => {
        if (status >= 200 && status < 300) latencies.push(performance.now() - started);
        else errors++;
        resolve();
      });
      stream.on('error', () => {
        errors++;
        resolve();
      });
    });
  const lane = async () => {
    while (performance.now() < stopAt) await one();
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
