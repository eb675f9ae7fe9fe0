// An HTTP/2 saturation run for the h2 row: wrk and autocannon speak HTTP/1.1 only. Runs
// in its own process (as the other loaders do): `connections` sessions, each keeping
// `streams` requests in flight, for `duration` seconds; prints the LoadResult as JSON.
// TLS certificates are not verified here: the loader measures a local gateway it started.
//   node bench/h2-load.ts URL CONNECTIONS DURATION_S STREAMS_PER_CONNECTION [HEADERS_JSON]
import type { ClientHttp2Session } from 'node:http2';
import { runH2Sessions } from './h2-load-loop.ts';

const [url, connectionsText, durationText, streamsText, headersText] = process.argv.slice(2);
const extraHeaders = headersText ? (JSON.parse(headersText) as Record<string, string>) : {};
const target = new URL(url);

/** One GET; a success is a 2xx answer read to its end. */
function get(session: ClientHttp2Session): Promise<boolean> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': target.pathname + target.search, ...extraHeaders });
    let status = 0;
    stream.on('response', (headers) => {
      status = Number(headers[':status']);
    });
    stream.on('data', () => {});
    stream.on('end', () => resolve(status >= 200 && status < 300));
    stream.on('error', () => resolve(false));
  });
}

const result = await runH2Sessions({
  target,
  connectOptions: { rejectUnauthorized: false },
  connections: Number(connectionsText),
  streams: Number(streamsText),
  durationMs: Number(durationText) * 1000,
  call: get,
});
process.stdout.write(JSON.stringify(result));
