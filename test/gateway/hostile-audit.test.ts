// An attacker's audit through raw sockets: what a hostile client or upstream sent, what
// the client got back and what the upstream saw. Each test names the attack; the
// decisions are in docs/SECURITY.md.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as http2Connect } from 'node:http2';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { rawExchange } from '../helpers/http.ts';
import { createPki, requireOpenssl, type TestPki } from '../helpers/pki.ts';
import { startUpstream, type TestUpstream } from '../helpers/upstream.ts';

let upstream: TestUpstream;
/** Answers GET /slow-body with a head and 2 of its 10 body bytes, the other 8 after 300 ms. */
let paced: { url: string; close(): Promise<void> };
let gw: TestGateway;

before(async () => {
  upstream = await startUpstream();
  paced = await startPacedUpstream();
  gw = await startTestGateway({
    services: { echo: { url: upstream.url }, paced: { url: paced.url } },
    routes: [
      { path: '/app', service: 'echo', auth: 'none' },
      { path: '/app/admin', service: 'echo', auth: 'none', ip_allow: ['10.0.0.0/8'] },
      { path: '/paced', service: 'paced', auth: 'none' },
    ],
  });
});

after(async () => {
  await gw.close();
  await upstream.close();
  await paced.close();
});

async function startPacedUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
    let head = '';
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      const late = head.startsWith('GET /paced/late-head ');
      head = '';
      const answer = () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nab');
        setTimeout(() => socket.write('cdefghij'), 300);
      };
      if (late) setTimeout(answer, 300);
      else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Opens a connection to the gateway; `text()` is everything read so far, `closed` resolves on close. */
async function open(url: string): Promise<{ socket: Socket; text(): string; closed: Promise<boolean> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  socket.on('error', () => {});
  const closed = Promise.race([
    once(socket, 'close').then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 4000)),
  ]);
  return { socket, text: () => text, closed };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(condition(), what);
}

const MALFORMED = 'GET /app/x HTTP/1.1\r\nHost: gw\r\nX-Bad : y\r\n\r\n';

test('a malformed request pipelined behind an answer in progress is refused after that answer, never inside it', async () => {
  // The first answer is mid-body (headers and 2 of 10 bytes sent) when the bad head arrives.
  const midBody = await open(gw.url);
  midBody.socket.write('GET /paced/x HTTP/1.1\r\nHost: gw\r\n\r\n');
  await until(() => midBody.text().endsWith('\r\n\r\nab'), 'the first answer started');
  midBody.socket.write(MALFORMED);
  assert.ok(await midBody.closed, 'the connection is closed after the refusal');
  const [first, second, ...rest] = midBody.text().split(/(?=HTTP\/1\.1 )/);
  assert.match(first, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nabcdefghij$/, 'the first answer is whole');
  assert.match(second ?? '', /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/);
  assert.deepEqual(rest, []);

  // The first answer has not started yet (its upstream answers late): it still comes first.
  const waiting = await open(gw.url);
  waiting.socket.write('GET /paced/late-head HTTP/1.1\r\nHost: gw\r\n\r\n');
  await new Promise((resolve) => setTimeout(resolve, 100));
  waiting.socket.write(MALFORMED);
  assert.ok(await waiting.closed, 'the connection is closed after the refusal');
  const answers = waiting.text().split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, waiting.text());
  assert.match(answers[0], /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nabcdefghij$/);
  assert.match(answers[1], /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/);
});

test('HTTP/0.9 and HTTP/2.0 request lines on an HTTP/1 connection are a JSON 400 and close; nothing is forwarded', async () => {
  const before = upstream.requests.length;
  for (const bytes of [
    'GET /app/x\r\n\r\n',
    'GET /app/x\r\nHost: gw\r\nX-A: 1\r\n\r\n',
    'GET /app/x HTTP/2.0\r\nHost: gw\r\n\r\n',
    // pipelined behind a good request: that one is answered, nothing after the refusal is
    'GET /app/a HTTP/1.1\r\nHost: gw\r\n\r\nGET /app/b HTTP/2.0\r\nHost: gw\r\n\r\nGET /app/c HTTP/1.1\r\nHost: gw\r\n\r\n',
  ]) {
    const answer = await rawExchange(gw.url, bytes, 1500);
    const refusal = answer.slice(answer.indexOf('HTTP/1.1 400'));
    assert.match(refusal, /^HTTP\/1\.1 400 [\s\S]*connection: close[\s\S]*"code":"BAD_REQUEST"/i, bytes);
    assert.doesNotMatch(refusal.slice(1), /HTTP\/1\.1 /, `nothing answered after the refusal: ${bytes}`);
  }
  assert.deepEqual(
    upstream.requests.slice(before).map((request) => request.url),
    ['/app/a'],
    'only the good request before the refusal reached the upstream',
  );
});

test('HTTP/1.1 without Host, and CONNECT, are answered with the JSON 400 and closed', async () => {
  const before = upstream.requests.length;
  for (const bytes of [
    'GET /app/x HTTP/1.1\r\nConnection: keep-alive\r\n\r\n',
    'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n',
    'CONNECT /app/x HTTP/1.1\r\nHost: gw\r\n\r\n',
  ]) {
    const answer = await rawExchange(gw.url, bytes, 1500);
    assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/, bytes);
    assert.match(answer, /connection: close/i, bytes);
  }
  assert.equal(upstream.requests.length, before, 'nothing forwarded');
  // HTTP/1.0 may go without Host.
  assert.match(await rawExchange(gw.url, 'GET /app/x HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 200/);
});

test('an Expect other than 100-continue is served like any request, and Expect never goes upstream', async () => {
  const answer = await rawExchange(
    gw.url,
    'POST /app/x HTTP/1.1\r\nHost: gw\r\nExpect: something-else\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello',
  );
  assert.match(answer, /^HTTP\/1\.1 200/);
  const seen = upstream.requests[upstream.requests.length - 1];
  assert.equal(seen.body.toString(), 'hello');
  assert.equal(seen.headers.expect, undefined);
});

test('overlong UTF-8 escapes of . and / are refused: an upstream that decodes them could climb out of its route', async () => {
  const before = upstream.requests.length;
  for (const target of [
    '/app/x/%c0%ae%c0%ae/admin/secret',
    '/app/x/%C0%AE./admin',
    '/app/x%c0%afadmin',
    '/app/x/%e0%80%ae%e0%80%ae/admin',
    '/app/x/%f0%80%80%ae/admin',
    '/app/%c1%9c',
  ]) {
    const answer = await rawExchange(
      gw.url,
      `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/, target);
  }
  assert.equal(upstream.requests.length, before, 'nothing forwarded');
  // Well-formed UTF-8 is forwarded as it came (escapes upper-cased).
  const fine = await rawExchange(
    gw.url,
    'GET /app/caf%c3%a9 HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n',
  );
  assert.match(fine, /^HTTP\/1\.1 200/);
  assert.equal(upstream.requests[upstream.requests.length - 1].url, '/app/caf%C3%A9');
});

test('encoded path tricks reach the IP-listed route or are refused, never the open prefix around it', async () => {
  for (const target of [
    '/app/admin/x',
    '/app/%61dmin/x',
    '/app//admin/x',
    '/app/./admin/x',
    '/app/x/../admin/x',
    '/app/x/%2e%2e/admin/x',
    '/app/x/.%2E/admin/x',
    '///app/admin',
    '/app/admin?/../x',
  ]) {
    const answer = await rawExchange(
      gw.url,
      `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 403 [\s\S]*"code":"FORBIDDEN"/, target);
  }
  for (const target of [
    '/app/x/..%2fadmin',
    '/app%2fadmin',
    '/app/admin%5cx',
    '/app/admin%00',
    '/app/admin;x',
  ]) {
    const answer = await rawExchange(
      gw.url,
      `GET ${target} HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/, target);
  }
});

test('HTTPS/1.1: Expect: 100-continue is invited only once the route and policies passed', async (t) => {
  if (!requireOpenssl(t)) return;
  const pki: TestPki = createPki();
  const tls = await startTlsGateway(pki);
  try {
    const { port } = new URL(tls.url);
    const exchange = (bytes: string, alpn: string[]) =>
      new Promise<string>((resolve) => {
        const socket = tlsConnect(
          { port: Number(port), host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ALPNProtocols: alpn },
          () => socket.write(bytes),
        );
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.on('error', () => {});
        const timer = setTimeout(() => socket.destroy(), 1500);
        socket.on('close', () => {
          clearTimeout(timer);
          resolve(text);
        });
      });
    for (const alpn of [['http/1.1'], []]) {
      const forbidden = await exchange(
        'POST /app/admin/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n',
        alpn,
      );
      assert.match(forbidden, /^HTTP\/1\.1 403/, `no 100 Continue before the refusal (ALPN ${alpn})`);
      const tooLarge = await exchange(
        'POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n',
        alpn,
      );
      assert.match(tooLarge, /^HTTP\/1\.1 413/, `no 100 Continue before the 413 (ALPN ${alpn})`);
      const accepted = await exchange(
        'POST /app/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n',
        alpn,
      );
      assert.match(accepted, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200/);
      const versionTwo = await exchange('GET /app/x HTTP/2.0\r\nHost: localhost\r\n\r\n', alpn);
      assert.match(versionTwo, /^HTTP\/1\.1 400 [\s\S]*"code":"BAD_REQUEST"/);
    }
  } finally {
    await tls.close();
    pki.remove();
  }
});

async function startTlsGateway(pki: TestPki): Promise<TestGateway> {
  const cert = pki.issue('api', { sans: ['localhost'] });
  return startTestGateway({
    server: {
      body_limit: '1kb',
      tls: { certificates: [{ cert_file: cert.certFile, key_file: cert.keyFile }] },
    },
    services: { echo: { url: upstream.url } },
    routes: [
      { path: '/app', service: 'echo', auth: 'none' },
      { path: '/app/admin', service: 'echo', auth: 'none', ip_allow: ['10.0.0.0/8'] },
    ],
  });
}

test('h2: Expect: 100-continue is invited only once the route and policies passed', async (t) => {
  if (!requireOpenssl(t)) return;
  const pki: TestPki = createPki();
  const tls = await startTlsGateway(pki);
  const session = http2Connect(tls.url, { ca: pki.ca, servername: 'localhost' });
  session.on('error', () => {});
  // What the client sees of an upload that waits for 100 Continue: '100' if invited, then the status.
  const upload = async (path: string): Promise<(string | number)[]> => {
    const events: (string | number)[] = [];
    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      expect: '100-continue',
      'content-length': '5',
    });
    stream.on('error', () => {});
    stream.on('continue', () => {
      events.push('100');
      stream.end('hello');
    });
    events.push(
      await new Promise<number>((resolve) =>
        stream.on('response', (headers) => resolve(Number(headers[':status']))),
      ),
    );
    return events;
  };
  try {
    assert.deepEqual(await upload('/app/admin/x'), [403], 'the refusal comes without a 100 Continue');
    assert.deepEqual(await upload('/app/x'), ['100', 200], 'an admitted upload is invited, then answered');
  } finally {
    session.destroy();
    await tls.close();
    pki.remove();
  }
});

test('a client that never reads its answer does not hold the upstream connection past body_timeout', async () => {
  let upstreamClosed = false;
  const held = new Set<Socket>();
  const big = createServer((socket) => {
    held.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => (upstreamClosed = true));
    socket.once('data', () => {
      const size = 64 * 1024 * 1024;
      socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${size}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 97);
      let sent = 0;
      const pump = () => {
        while (sent < size) {
          sent += chunk.length;
          if (!socket.write(chunk)) {
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
  big.listen(0, '127.0.0.1');
  await once(big, 'listening');
  const slowReader = await startTestGateway({
    services: {
      big: { url: `http://127.0.0.1:${(big.address() as AddressInfo).port}`, body_timeout: '1s' },
    },
    routes: [{ path: '/big', service: 'big', auth: 'none' }],
  });
  const { port } = new URL(slowReader.url);
  const client = connect(Number(port), '127.0.0.1');
  client.on('error', () => {});
  client.write('GET /big HTTP/1.1\r\nHost: gw\r\n\r\n');
  client.pause();
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.ok(upstreamClosed, 'the upstream connection was released within 3 s (body_timeout 1 s)');
  } finally {
    client.destroy();
    await slowReader.close();
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => big.close(() => resolve()));
  }
});
