// The loop both HTTP/2 loaders share (bench/h2-load.ts, bench/grpc-load.ts): `connections`
// sessions, each keeping `streams` calls in flight until `durationMs` has passed. Only
// what one call is differs between them, so each passes its own `call`.
import {
  type ClientHttp2Session,
  type ClientSessionOptions,
  connect,
  type SecureClientSessionOptions,
} from 'node:http2';
import type { LoadResult } from './load.ts';

export interface H2LoadOptions {
  target: URL;
  connectOptions?: ClientSessionOptions | SecureClientSessionOptions;
  connections: number;
  streams: number;
  durationMs: number;
  /** One call on the session; resolves whether it counts as a success. */
  call: (session: ClientHttp2Session) => Promise<boolean>;
}

export async function runH2Sessions(options: H2LoadOptions): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const stopAt = performance.now() + options.durationMs;

  async function session(): Promise<void> {
    const client = connect(options.target.origin, options.connectOptions);
    client.on('error', () => errors++);
    await new Promise((resolve) => client.once('connect', resolve));
    const lane = async () => {
      while (performance.now() < stopAt) {
        const started = performance.now();
        if (await options.call(client)) latencies.push(performance.now() - started);
        else errors++;
      }
    };
    await Promise.all(Array.from({ length: options.streams }, lane));
    client.close();
  }

  const started = performance.now();
  await Promise.all(Array.from({ length: options.connections }, session));
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    reqPerSec: latencies.length / elapsedS,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    requests: latencies.length,
    errors,
  };
}
