// Shared pieces of the upstream tests: a hand-moved clock, a logger that keeps its
// lines, service configs parsed by the real schema, and real HTTP upstreams.
import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, pino } from 'pino';
import { type ServiceConfig, serviceSchema } from '../../src/config/schema.ts';

export interface FakeClock {
  (): number;
  advance(ms: number): void;
}

export function fakeClock(start = 1_000_000): FakeClock {
  let now = start;
  const clock = (() => now) as FakeClock;
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

export interface LogLine {
  level: number;
  msg: string;
  service?: string;
  instance?: string;
  [field: string]: unknown;
}

/** A pino logger whose lines land in `lines`, parsed. */
export function memoryLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) },
  );
  return { logger, lines };
}

export const silentLogger: Logger = pino({ level: 'silent' });

/** A service config as the schema produces it (durations in ms, defaults filled). */
export function service(input: Record<string, unknown>): ServiceConfig {
  return serviceSchema.parse(input);
}

export interface TestUpstream {
  readonly server: Server;
  readonly port: number;
  readonly url: string;
  /** Requests seen, by path. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

/** A real HTTP server on a free port; `handler` answers, `hits` counts paths. */
export async function startUpstream(
  handler: RequestListener,
  host = '127.0.0.1',
  port = 0,
): Promise<TestUpstream> {
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    hits.set(req.url ?? '', (hits.get(req.url ?? '') ?? 0) + 1);
    handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    url: `http://${host}:${bound}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls until `check` holds; the deadline only keeps a broken test from hanging. */
export async function eventually(check: () => boolean, what: string, deadlineMs = 5_000): Promise<void> {
  const giveUpAt = Date.now() + deadlineMs;
  while (!check()) {
    if (Date.now() > giveUpAt) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
