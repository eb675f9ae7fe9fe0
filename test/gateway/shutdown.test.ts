// Graceful shutdown of the real process: SIGTERM with a request in flight.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { stringify } from 'yaml';
import { startCliGateway } from '../helpers/cli.ts';
import { send } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

async function configFile(upstreamUrl: string, shutdownTimeout: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'gatehouse-shutdown-')), 'gateway.yaml');
  await writeFile(
    file,
    stringify({
      server: { host: '127.0.0.1', port: 0, shutdown_timeout: shutdownTimeout },
      admin: { port: 0 },
      services: { slow: { url: upstreamUrl } },
      routes: [{ path: '/', service: 'slow' }],
    }),
  );
  return file;
}

test('SIGTERM: readiness turns 503, the in-flight request completes with 200, the process exits 0', async () => {
  const upstream = await startUpstream((_req, res) => {
    setTimeout(() => res.end('finished'), 800);
  });
  const gateway = await startCliGateway(await configFile(upstream.url, '10s'));
  try {
    const inFlight = send(`${gateway.url}/work`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    gateway.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    const ready = await send(`${gateway.adminUrl}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual(ready.json(), { status: 'draining' });
    await assert.rejects(send(`${gateway.url}/work`), 'no new connections while draining');
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(response.body.toString(), 'finished');
    assert.equal(await gateway.exited, 0);
    assert.match(gateway.output(), /gateway stopped/);
  } finally {
    gateway.child.kill('SIGKILL');
    await upstream.close();
  }
});

test('the shutdown deadline cuts requests that outlive it, and a second signal exits at once', async () => {
  const upstream = await startUpstream(() => {});
  const gateway = await startCliGateway(await configFile(upstream.url, '300ms'));
  try {
    const stuck = send(`${gateway.url}/hang`).catch((error: Error) => error);
    await new Promise((resolve) => setTimeout(resolve, 150));
    gateway.child.kill('SIGTERM');
    assert.equal(await gateway.exited, 0);
    assert.ok((await stuck) instanceof Error, 'the stuck request was cut at the deadline');
  } finally {
    await upstream.close();
  }

  const hanging = await startUpstream(() => {});
  const second = await startCliGateway(await configFile(hanging.url, '30s'));
  try {
    void send(`${second.url}/hang`).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 150));
    second.child.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 150));
    second.child.kill('SIGTERM');
    assert.equal(await second.exited, 1);
  } finally {
    second.child.kill('SIGKILL');
    await hanging.close();
  }
});

test('SIGTERM under keep-alive load: answers in flight carry Connection: close, no client sees a reset', async () => {
  const upstream = await startUpstream((_req, res) => {
    setTimeout(() => res.end('ok'), 5);
  });
  const gateway = await startCliGateway(await configFile(upstream.url, '10s'));
  const resets: string[] = [];
  let ok = 0;
  let closedByServer = 0;
  let sigtermAt = Number.POSITIVE_INFINITY;
  const loop = async (): Promise<void> => {
    const client = new Client(gateway.url, { keepAliveTimeout: 30_000, pipelining: 1 });
    try {
      const stopAt = performance.now() + 2500;
      while (performance.now() < stopAt) {
        try {
          const response = await client.request({ path: '/work', method: 'GET' });
          await response.body.text();
          ok++;
          if (response.headers.connection === 'close' && performance.now() >= sigtermAt) closedByServer++;
        } catch (error) {
          const code = (error as { code?: string }).code ?? String(error);
          // The listener is closed: the expected end of the loop, not a reset.
          if (code === 'ECONNREFUSED') return;
          resets.push(
            `${code} ${(error as Error).message} at +${Math.round(performance.now() - sigtermAt)} ms after ${ok}`,
          );
          return;
        }
      }
    } finally {
      await client.destroy();
    }
  };
  try {
    const loops = [1, 2, 3, 4].map(() => loop());
    await new Promise((resolve) => setTimeout(resolve, 800));
    sigtermAt = performance.now();
    gateway.child.kill('SIGTERM');
    await Promise.all(loops);
    assert.equal(await gateway.exited, 0);
    assert.deepEqual(resets, [], 'no connection was reset');
    assert.ok(ok > 0, `requests were served (${ok})`);
    assert.ok(closedByServer >= 1, 'answers during the drain told their clients to close');
  } finally {
    gateway.child.kill('SIGKILL');
    await upstream.close();
  }
});

/** `npm start` exactly as an operator or a process manager runs it, from the repository root. */
async function startThroughNpm(config: string): Promise<{
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}> {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const child = spawn('npm', ['start', '--silent', '--', '--config', config], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  // npm itself can take seconds to start on a loaded machine: wait generously, not for ever.
  let ended = false;
  void exited.then(() => (ended = true));
  for (let i = 0; i < 800 && !ended && !output.includes('"gateway listening"'); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.match(output, /"gateway listening"/, 'the gateway started under npm');
  return { child, exited, output: () => output };
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start passes ${signal} on to the gateway: it drains and stops`, async () => {
    const upstream = await startUpstream((_req, res) => {
      setTimeout(() => res.end('finished'), 300);
    });
    const npm = await startThroughNpm(await configFile(upstream.url, '10s'));
    try {
      const url = JSON.parse(
        npm
          .output()
          .split('\n')
          .find((line) => line.includes('"gateway listening"'))!,
      ).url;
      const inFlight = send(`${url}/work`);
      await new Promise((resolve) => setTimeout(resolve, 100));
      npm.child.kill(signal);
      const response = await inFlight;
      assert.equal(response.status, 200, 'the request in flight was drained, not cut');
      assert.equal(response.body.toString(), 'finished');
      const code = await Promise.race([
        npm.exited,
        new Promise((resolve) => setTimeout(() => resolve('hung'), 15_000)),
      ]);
      assert.notEqual(code, 'hung', 'npm ended');
      assert.match(npm.output(), /"gateway stopped"/, 'the gateway itself drained and stopped');
    } finally {
      npm.child.kill('SIGKILL');
      await upstream.close();
    }
  });
}
