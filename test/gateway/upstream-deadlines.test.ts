// Whose failure is it? The service timeout must blame the instance only for its own
// slowness: a client that stalls its upload is the client's failure (408), and a
// request stuck waiting for a connection to a frozen instance is bounded by the
// timeout (504), not by connect_timeout.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { metricValue, startTestGateway } from '../helpers/gateway.ts';
import { send } from '../helpers/http.ts';
import { startUpstream } from '../helpers/upstream.ts';

/** Sends a head announcing 100 bytes, then 3 of them, and waits for the gateway to answer or close. */
async function stalledUpload(gatewayUrl: string): Promise<string> {
  const { port } = new URL(gatewayUrl);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
  socket.on('error', () => {});
  socket.write('POST /up HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nabc');
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 8000))]);
  socket.destroy();
  return answer;
}

test('slow uploads are the client failure (408): they never open the breaker, other clients keep getting 200', async () => {
  const upstream = await startUpstream();
  const gw = await startTestGateway({
    server: { headers_timeout: '500ms', request_timeout: '1s' },
    services: {
      app: {
        url: upstream.url,
        timeout: '300ms',
        circuit_breaker: { min_requests: 3, failure_ratio: 0.5, interval: '60s', timeout: '30s' },
      },
    },
    routes: [{ path: '/', service: 'app' }],
  });
  try {
    const answers = await Promise.all([1, 2, 3].map(() => stalledUpload(gw.url)));
    for (const answer of answers) {
      assert.match(answer, /^HTTP\/1\.1 408/, 'the stalled client gets the timeout, not a 504');
      assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
    }
    const labels = { service: 'app', instance: upstream.url };
    assert.equal(await metricValue(gw, 'gatehouse_breaker_state', labels), 0, 'the breaker stays closed');
    for (let i = 0; i < 5; i++) assert.equal((await send(`${gw.url}/after`)).status, 200);
    assert.equal(
      gw.logs().filter((line) => line.msg === 'request' && line.status === 504).length,
      0,
      'no slow upload was logged as an upstream timeout',
    );
  } finally {
    await gw.close();
    await upstream.close();
  }
});

/**
 * An instance that is frozen (SIGSTOP) with its listen backlog full: the kernel drops
 * new SYNs, so a connection attempt hangs until the connect timeout.
 */
async function frozenInstance(): Promise<{ port: number; child: ChildProcess; held: Socket[] }> {
  const child = spawn(
    process.execPath,
    [
      '-e',
      "const s = require('node:net').createServer(() => {}); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port));",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(data.toString().trim());
  child.kill('SIGSTOP');
  // Fill the accept queue (backlog + 1) while the process cannot accept.
  const held: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    held.push(socket);
    await once(socket, 'connect');
  }
  return { port, child, held };
}

test('with one frozen instance the service timeout bounds the wait for a connection: 504 at the timeout, not 502 after connect_timeout', async () => {
  const frozen = await frozenInstance();
  const url = `http://127.0.0.1:${frozen.port}`;
  const gw = await startTestGateway({
    services: {
      // A breaker that would trip on these timeouts is not what this test is about.
      frozen: { url, timeout: '500ms', connect_timeout: '3s', circuit_breaker: { min_requests: 100 } },
    },
    routes: [{ path: '/', service: 'frozen' }],
  });
  try {
    const started = performance.now();
    const answers = await Promise.all([1, 2, 3, 4].map(() => send(`${gw.url}/x`)));
    const elapsed = performance.now() - started;
    for (const answer of answers) {
      assert.equal(answer.status, 504);
      assert.equal(answer.json<{ error: { code: string } }>().error.code, 'UPSTREAM_TIMEOUT');
    }
    assert.ok(elapsed < 2500, `answered in ${Math.round(elapsed)} ms, before the 3 s connect timeout`);

    // A client that leaves while its request waits for a connection ends it there too:
    // its access line (499) is written long before the connect timeout.
    const controller = new AbortController();
    const leaving = fetch(`${gw.url}/leaving`, { signal: controller.signal }).catch(() => 'left');
    await new Promise((resolve) => setTimeout(resolve, 200));
    controller.abort();
    assert.equal(await leaving, 'left');
    const left = performance.now();
    for (let i = 0; i < 50; i++) {
      if (gw.logs().some((line) => line.path === '/leaving')) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const line = gw.logs().find((entry) => entry.path === '/leaving');
    assert.equal(line?.status, 499);
    assert.ok(performance.now() - left < 2000, 'the abort reached the waiting request');
  } finally {
    await gw.close();
    for (const socket of frozen.held) socket.destroy();
    frozen.child.kill('SIGKILL');
  }
});
