// WebSocket tunnelling through real sockets: the handshake passes the route's
// policies, then bytes flow both ways untouched.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange } from '../helpers/http.ts';

let gw: TestGateway;
const upstream = createServer((_req, res) => res.end('plain'));
const handshakes: Record<string, string | string[] | undefined>[] = [];

before(async () => {
  upstream.on('upgrade', (req, socket) => {
    handshakes.push({ url: req.url, ...req.headers });
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: test\r\n\r\n',
    );
    socket.on('data', (chunk: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), chunk])));
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestGateway({
    services: { live: { url } },
    routes: [
      { path: '/ws', service: 'live', websocket: true, strip_prefix: true },
      { path: '/plain', service: 'live' },
    ],
  });
});

after(async () => {
  await gw.close();
  upstream.closeAllConnections();
  upstream.close();
});

const handshake = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: gw\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-User-ID: spoofed\r\n${extra}\r\n`;

test('a websocket route tunnels bytes both ways after the upstream answers 101', async () => {
  const { port } = new URL(gw.url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write(handshake('/ws/chat'));
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const until = async (predicate: () => boolean) => {
    for (let i = 0; i < 100 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await until(() => received.includes('\r\n\r\n'));
  assert.match(received, /^HTTP\/1\.1 101 Switching Protocols/);
  assert.match(received, /sec-websocket-accept: test/i);
  assert.match(received, /x-request-id: /i);
  socket.write('hello');
  await until(() => received.includes('echo:hello'));
  assert.ok(received.endsWith('echo:hello'));
  socket.destroy();
  const seen = handshakes[handshakes.length - 1];
  assert.equal(seen.url, '/chat');
  assert.equal(seen['sec-websocket-key'], 'dGhlIHNhbXBsZSBub25jZQ==');
  assert.equal(seen['x-user-id'], undefined);
  assert.ok(seen['x-request-id']);
});

test('an Upgrade on a route without websocket: true is served as a plain request', async () => {
  const answer = await rawExchange(gw.url, handshake('/plain', 'Connection: close\r\n'), 1000);
  assert.match(answer, /^HTTP\/1\.1 200/);
  assert.match(answer, /plain$/);
});

test('a handshake to no route gets the JSON 404', async () => {
  const answer = await rawExchange(gw.url, handshake('/nowhere'), 1000);
  assert.match(answer, /^HTTP\/1\.1 404/);
});
