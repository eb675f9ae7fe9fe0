// Ports and readiness for the bench's processes.
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Child, isRunning } from './children.ts';

/** A port free right now on 127.0.0.1 (the OS picks it; another process could take it, rarely). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Polls url every intervalMs until it answers 200; fails early if the process exits. */
export async function waitFor200(
  url: string,
  child: Child,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (!isRunning(child)) {
      throw new Error(
        `${child.name} exited (${child.process.exitCode ?? child.process.signalCode}) before answering ${url}`,
      );
    }
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${child.name} did not answer 200 at ${url} within ${timeoutMs / 1000}s (last: ${last})`);
}
