// A real redis-server per test file, on a free port, in its own temp dir, that a test
// can kill, restart on the same port, or freeze (SIGSTOP) to play the faults a
// limiter must survive. Project rule: without redis-server the Redis tests fail under
// CI=true and are skipped loudly elsewhere.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Kills the server for good and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server if it runs, then starts a fresh one (empty) on the same port. */
  restart(): Promise<void>;
  /** Sends a signal (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP: the socket stays open and accepts commands, nothing is answered. */
  pause(): void;
  /** SIGCONT. */
  resume(): void;
}

const REDIS_BIN = process.env.REDIS_SERVER ?? 'redis-server';

let availability: string | undefined | null = null;

/** Undefined when redis-server can run here, else why not. */
export function redisUnavailableReason(): string | undefined {
  if (availability === null) {
    const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
    availability = probe.error
      ? `${REDIS_BIN} not runnable: ${probe.error.message}`
      : probe.status === 0
        ? undefined
        : `${REDIS_BIN} --version exited ${probe.status}`;
  }
  return availability;
}

/**
 * Call first in a test that needs Redis: `if (!requireRedis(t)) return;`.
 * Without redis-server: under CI=true it throws (the test fails), else the test is
 * skipped with a warning that cannot be missed.
 */
export function requireRedis(t: TestContext): boolean {
  const reason = redisUnavailableReason();
  if (reason === undefined) return true;
  if (process.env.CI === 'true') throw new Error(`redis-server is required under CI=true (${reason})`);
  console.warn(
    `\n!!!! SKIPPED: ${t.name}: redis-server not installed (${reason}). Install redis-server to run the Redis tests. !!!!\n`,
  );
  t.skip(`redis-server not installed: ${reason}`);
  return false;
}

/**
 * The arguments of a redis-server that lives as long as its caller: loopback only,
 * nothing written to disk. Also what the bench's Redis (bench/fixtures.ts) runs with.
 */
export function throwawayRedisArgs(port: number): string[] {
  return ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Starts a server. The caller must stop() it (an exit hook kills leftovers anyway). */
export async function startRedis(): Promise<RedisServer> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const child of running) child.kill('SIGKILL');
    });
  }
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const proc = spawn(REDIS_BIN, [...throwawayRedisArgs(port), '--dir', dir, '--loglevel', 'warning'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    child = proc;
    const deadline = Date.now() + 5000;
    while (!(await ping(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(`redis-server exited at start (port ${port}): ${stderr}`);
      if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port}`);
      await delay(20);
    }
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    // A stopped process only acts on SIGTERM once continued.
    proc.kill('SIGCONT');
    proc.kill(signal);
    await exited;
  };

  // The free port may be taken between probing and binding: try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (error) {
      await kill();
      if (attempt >= 4) throw error;
    }
  }

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    kill,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** True when a server on the port answers PING within 500 ms. */
export function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data: Buffer) => done(data.toString().startsWith('+PONG')));
  });
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
