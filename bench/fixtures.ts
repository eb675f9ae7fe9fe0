// Side services some rows need (an auth service and a token, a Redis), started once,
// on first use, and kept for the rest of the run. They stay outside the measured
// process, like the upstream.
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ping, throwawayRedisArgs } from '../test/helpers/redis.ts';
import { type Child, isRunning, startProcess } from './children.ts';
import { GRPC_PATH, waitForGrpc } from './grpc-request.ts';
import { freePort, waitFor200 } from './net.ts';
import { pinned } from './pin.ts';

export interface AuthFixture {
  url: string; // the demo auth service: /auth/login, /auth/verify, /.well-known/jwks.json
  token: string; // a valid token for alice, good for an hour
}

export interface GrpcUpstreamFixture {
  url: string; // h2c origin
  child: Child; // its process: the direct row's CPU and RSS are read from it
}

export class Fixtures {
  readonly #root: string;
  readonly #workDir: string;
  #auth?: Promise<AuthFixture>;
  #redis?: Promise<string>;
  #otlpSink?: Promise<string>;
  #grpcUpstream?: Promise<GrpcUpstreamFixture>;

  constructor(root: string, workDir: string) {
    this.#root = root;
    this.#workDir = workDir;
  }

  auth(): Promise<AuthFixture> {
    this.#auth ??= this.#startAuth();
    return this.#auth;
  }

  /** A redis:// URL of a throw-away redis-server (no persistence). */
  redis(): Promise<string> {
    this.#redis ??= this.#startRedis();
    return this.#redis;
  }

  /** The base URL of an OTLP/HTTP sink (bench/otlp-sink.ts) for tracing.otlp_endpoint. */
  otlpSink(): Promise<string> {
    this.#otlpSink ??= this.#startOtlpSink();
    return this.#otlpSink;
  }

  /** The gRPC rows' upstream (bench/grpc-upstream.ts, h2c), shared by both rows as the HTTP upstream is. */
  grpcUpstream(): Promise<GrpcUpstreamFixture> {
    this.#grpcUpstream ??= this.#startGrpcUpstream();
    return this.#grpcUpstream;
  }

  async #startGrpcUpstream(): Promise<GrpcUpstreamFixture> {
    const port = await freePort();
    const [command, args] = pinned('others', process.execPath, ['bench/grpc-upstream.ts']);
    const child = startProcess('grpc upstream', command, args, {
      env: { PORT: String(port) },
      logFile: join(this.#workDir, 'grpc-upstream.log'),
      cwd: this.#root,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForGrpc(`${url}${GRPC_PATH}`, child);
    return { url, child };
  }

  async #startOtlpSink(): Promise<string> {
    const port = await freePort();
    const [command, args] = pinned('others', process.execPath, ['bench/otlp-sink.ts']);
    const child = startProcess('otlp sink', command, args, {
      env: { PORT: String(port) },
      logFile: join(this.#workDir, 'otlp-sink.log'),
      cwd: this.#root,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitForListening(port, child);
    return url;
  }

  async #startAuth(): Promise<AuthFixture> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const [command, args] = pinned('others', process.execPath, ['demo/services/auth.ts']);
    const child = startProcess('auth service', command, args, {
      env: { PORT: String(port) },
      logFile: join(this.#workDir, 'auth-service.log'),
      cwd: this.#root,
    });
    await waitFor200(`${url}/health`, child);
    const res = await fetch(`${url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'alice', password: 'alice' }),
    });
    const { token } = (await res.json()) as { token: string };
    return { url, token };
  }

  async #startRedis(): Promise<string> {
    const port = await freePort();
    const [command, args] = pinned('others', 'redis-server', throwawayRedisArgs(port));
    const child = startProcess('redis-server', command, args, { logFile: join(this.#workDir, 'redis.log') });
    await waitForPong(port, child);
    return `redis://127.0.0.1:${port}`;
  }
}

async function waitForListening(port: number, child: Child, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error('the OTLP sink exited at start');
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await sleep(50);
  }
  throw new Error('the OTLP sink did not listen in time');
}

async function waitForPong(port: number, child: Child, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isRunning(child)) throw new Error('redis-server exited at start (is it installed?)');
    if (await ping(port)) return;
    await sleep(100);
  }
  throw new Error(`redis-server did not answer PING on port ${port}`);
}
