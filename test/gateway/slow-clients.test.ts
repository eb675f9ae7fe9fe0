// Slow clients (slow-loris): headers or a body that never finish end at the server's
// deadlines with the JSON 408, instead of holding a connection for ever.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({
    server: { headers_timeout: '500ms', request_timeout: '1s' },
    services: { echo: { url: upstream.url } },
    routes: [{ path: '/', service: 'echo' }],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
});

/** Sends `first`, then one byte of `drip` every 100 ms; returns what came back and when the socket closed. */
async function dribble(first: string, drip: string): Promise<{ answer: string; closedAfterMs: number }> {
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  const started = performance.now();
  socket.write(first);
  let answer = '';
  socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
  socket.on('error', () => {});
  let index = 0;
  const timer = setInterval(() => {
    if (index < drip.length && socket.writable) socket.write(drip[index++]);
  }, 100);
  const closed = once(socket, 'close');
  const limit = new Promise((resolve) => setTimeout(resolve, 10_000));
  await Promise.race([closed, limit]);
  clearInterval(timer);
  socket.destroy();
  return { answer, closedAfterMs: performance.now() - started };
}

test('headers that never finish are cut at headers_timeout with a JSON 408', async () => {
  const { answer, closedAfterMs } = await dribble(
    'GET / HTTP/1.1\r\nHost: gw\r\n',
    'X-Slow: '.padEnd(200, 'a'),
  );
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
  assert.ok(closedAfterMs < 5000, `closed after ${Math.round(closedAfterMs)} ms`);
});

test('a body that never finishes is cut at request_timeout, and the upstream request is aborted', async () => {
  const before = upstream.requests.length;
  const { answer, closedAfterMs } = await dribble(
    'POST / HTTP/1.1\r\nHost: gw\r\nContent-Length: 1000\r\n\r\n',
    'x'.repeat(200),
  );
  assert.ok(closedAfterMs < 5000, `closed after ${Math.round(closedAfterMs)} ms`);
  assert.match(answer, /^HTTP\/1\.1 408/);
  assert.match(answer, /"code":"REQUEST_TIMEOUT"/);
  assert.equal(upstream.requests.length, before, 'the upstream never received a complete request');
});
