// One saturation run (a fixed number of keep-alive connections, as fast as they go), in
// its own process: a loader sharing the event loop of the orchestrator (or of a server)
// would measure itself. wrk when installed (a C loader costs the shared cores far less
// than autocannon), autocannon otherwise; BENCH_LOADER=autocannon|wrk forces one.
import { execFileSync, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { track } from './children.ts';
import { pinned } from './pin.ts';

const AUTOCANNON = createRequire(import.meta.url).resolve('autocannon/autocannon.js');

export interface LoadOptions {
  url: string;
  connections: number;
  durationS: number;
  headers: Record<string, string>;
}

export interface LoadResult {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Socket errors, timeouts and non-2xx answers: a row with any is suspect. */
  errors: number;
}

function wrkInstalled(): boolean {
  try {
    execFileSync('wrk', ['-v'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    // wrk -v prints its version and exits 1; only a missing binary is ENOENT.
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

export const loader: 'wrk' | 'autocannon' =
  process.env.BENCH_LOADER === 'autocannon'
    ? 'autocannon'
    : process.env.BENCH_LOADER === 'wrk' || wrkInstalled()
      ? 'wrk'
      : 'autocannon';

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return loader === 'wrk' ? runWrk(options) : runAutocannon(options);
}

async function runChild(name: string, command: string, args: string[]): Promise<string> {
  const [cmd, argv] = pinned('others', command, args);
  const child = spawn(cmd, argv, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const tracked = track(name, child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  await tracked.exited;
  if (child.exitCode !== 0)
    throw new Error(
      `${name} failed (${child.exitCode ?? child.signalCode}): ${stderr.trim() || stdout.trim()}`,
    );
  return stdout;
}

// The part of autocannon's --json output the bench reads.
interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

async function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  const args = [AUTOCANNON, '--json', '--no-progress'];
  args.push('-c', String(options.connections), '-d', String(options.durationS));
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}=${value}`);
  args.push(options.url);
  const json = JSON.parse(await runChild('autocannon', process.execPath, args)) as AutocannonJson;
  return {
    reqPerSec: json.requests.average,
    p50Ms: json.latency.p50,
    p99Ms: json.latency.p99,
    requests: json.requests.total,
    errors: json.errors + json.timeouts + json.non2xx,
  };
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  // One thread: the loader has one core of its own at most (see pin.ts), and 50
  // connections are far below what one wrk thread drives.
  const args = ['-t1', '-c', String(options.connections), '-d', `${options.durationS}s`, '--latency'];
  for (const [name, value] of Object.entries(options.headers)) args.push('-H', `${name}: ${value}`);
  args.push(options.url);
  return parseWrk(await runChild('wrk', 'wrk', args));
}

/** Reads wrk's text report (wrk has no JSON output without a Lua script). */
export function parseWrk(text: string): LoadResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(text);
    if (!match) throw new Error(`unexpected wrk output (no ${pattern}):\n${text}`);
    return Number(match[1]);
  };
  const percentile = (p: number): number => {
    const match = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
    if (!match) throw new Error(`unexpected wrk output (no ${p}% latency):\n${text}`);
    return Number(match[1]) * { us: 0.001, ms: 1, s: 1000 }[match[2] as 'us' | 'ms' | 's'];
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    reqPerSec: number(/Requests\/sec:\s+([\d.]+)/),
    p50Ms: percentile(50),
    p99Ms: percentile(99),
    requests: number(/(\d+) requests in/),
    errors: socketErrors + (non2xx ? Number(non2xx[1]) : 0),
  };
}

/**
 * The h2 row's loader: bench/h2-load.ts in its own process, `connections` sessions with 10
 * streams each in flight (an h2 client multiplexes; one stream per session would measure
 * HTTP/1.1 with extra framing).
 */
export async function runH2Load(options: LoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(new URL('h2-load.ts', import.meta.url));
  const streams = 10;
  const sessions = Math.max(1, Math.round(options.connections / streams));
  const args = [script, options.url, String(sessions), String(options.durationS), String(streams)];
  if (Object.keys(options.headers).length > 0) args.push(JSON.stringify(options.headers));
  return JSON.parse(await runChild('h2-load', process.execPath, args)) as LoadResult;
}

/** The gRPC rows' loader: bench/grpc-load.ts, sessions and streams as for the h2 row. */
export async function runGrpcLoad(options: LoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(new URL('grpc-load.ts', import.meta.url));
  const streams = 10;
  const sessions = Math.max(1, Math.round(options.connections / streams));
  const args = [script, options.url, String(sessions), String(options.durationS), String(streams)];
  return JSON.parse(await runChild('grpc-load', process.execPath, args)) as LoadResult;
}
