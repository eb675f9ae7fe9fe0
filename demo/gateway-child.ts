// The gateway as a child process running the real CLI, so the demo exercises exactly
// what `npm start` runs. It gets its own process group: a terminal Ctrl-C then
// reaches only demo/run.ts, which forwards one SIGTERM and waits for the drain
// (a second signal might make the gateway skip its drain).
import { type ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

export interface GatewayChild {
  child: ChildProcess;
  /** Output so far; shown when the gateway fails to start. */
  output(): string;
  /** After this, output goes straight to our stdout/stderr. */
  follow(): void;
  /** Resolves with the exit code (or signal name) when the process is gone. */
  exited: Promise<number | string>;
}

export function spawnGateway(
  cliPath: string,
  configPath: string,
  env: NodeJS.ProcessEnv,
  cwd: string,
): GatewayChild {
  const child = spawn(process.execPath, [cliPath, 'start', '--config', configPath], {
    cwd,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave an orphan gateway holding port 8080, whatever way we exit.
  const killOnExit = () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL');
  process.on('exit', killOnExit);

  let buffered = '';
  let following = false;
  const relay = (sink: NodeJS.WriteStream) => (chunk: Buffer) => {
    if (following) sink.write(chunk);
    else buffered += chunk;
  };
  child.stdout!.on('data', relay(process.stdout));
  child.stderr!.on('data', relay(process.stderr));

  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (error) => {
      buffered += `\n${error.message}`;
      resolve(1);
    });
    child.once('exit', (code, signal) => {
      process.off('exit', killOnExit);
      resolve(code ?? signal ?? 1);
    });
  });
  return {
    child,
    output: () => buffered,
    follow: () => {
      following = true;
      process.stdout.write(buffered);
      buffered = '';
    },
    exited,
  };
}

/** Polls readyUrl until it answers 200; throws if the gateway exits first or time runs out. */
export async function waitReady(gateway: GatewayChild, readyUrl: string, timeoutMs: number): Promise<void> {
  let gone: number | string | undefined;
  void gateway.exited.then((code) => (gone = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone !== undefined) throw new Error(`the gateway exited (${gone}) before it was ready`);
    try {
      const res = await fetch(readyUrl, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the gateway was not ready at ${readyUrl} within ${timeoutMs / 1000}s`);
}

/** SIGTERM, then SIGKILL if the drain takes longer than graceMs. */
export async function stopGateway(gateway: GatewayChild, graceMs: number): Promise<number | string> {
  const { child } = gateway;
  if (child.exitCode !== null || child.signalCode !== null) return gateway.exited;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await gateway.exited;
  } finally {
    clearTimeout(timer);
  }
}
