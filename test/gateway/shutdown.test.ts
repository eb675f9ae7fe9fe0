// Graceful shutdown of the real process: SIGTERM with a request in flight.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
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
