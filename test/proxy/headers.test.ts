import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clientResponseHeaders, upstreamRequestHeaders } from '../../src/proxy/headers.ts';

const facts = {
  requestId: 'req-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  forwardedFor: '10.0.0.1',
  forwardedProto: 'http',
  forwardedHost: 'gw.example',
  host: undefined,
  identity: undefined,
  identityNames: new Set(['x-user-id', 'x-user-roles']),
};

function pairs(list: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < list.length; i += 2) out.push([list[i].toLowerCase(), list[i + 1]]);
  return out;
}

test('drops hop-by-hop headers and those the Connection header lists, then adds the gateway ones', () => {
  const raw = [
    'Host',
    'gw.example',
    'Connection',
    'close, X-Secret, X-Forwarded-For, Authorization',
    'X-Secret',
    'drop me',
    'Keep-Alive',
    'timeout=5',
    'TE',
    'trailers',
    'Proxy-Authorization',
    'Basic x',
    'Upgrade',
    'h2c',
    'Expect',
    '100-continue',
    'Authorization',
    'Bearer t',
    'X-Forwarded-For',
    '1.2.3.4',
    'Accept',
    'a',
    'Accept',
    'b',
  ];
  const headers = { connection: 'close, X-Secret, X-Forwarded-For, Authorization' };
  const out = pairs(upstreamRequestHeaders(raw, headers, facts));
  const names = out.map(([name]) => name);
  for (const gone of [
    'connection',
    'x-secret',
    'keep-alive',
    'te',
    'proxy-authorization',
    'upgrade',
    'expect',
    'host',
    'authorization',
  ]) {
    assert.ok(!names.includes(gone), `${gone} must not be forwarded`);
  }
  assert.deepEqual(
    out.filter(([n]) => n === 'accept').map(([, v]) => v),
    ['a', 'b'],
  );
  assert.deepEqual(
    out.filter(([n]) => n === 'x-forwarded-for'),
    [['x-forwarded-for', '10.0.0.1']],
  );
  assert.ok(out.some(([n, v]) => n === 'x-request-id' && v === 'req-1'));
  assert.ok(out.some(([n, v]) => n === 'x-forwarded-host' && v === 'gw.example'));
});

test('removes client-sent identity headers in any case, count or spelling', () => {
  const raw = [
    'X-User-ID',
    'evil',
    'x-user-id',
    'evil2',
    'X_User_Roles',
    'admin',
    'x-USER-anything',
    'x',
    'X-Username-Hint',
    'y',
    'Accept',
    '*/*',
  ];
  const out = pairs(
    upstreamRequestHeaders(raw, {}, { ...facts, identity: ['X-User-ID', 'u1', 'X-User-Roles', 'a,b'] }),
  );
  assert.deepEqual(
    out.filter(([n]) => n.replaceAll('_', '-').startsWith('x-user')),
    [
      ['x-username-hint', 'y'],
      ['x-user-id', 'u1'],
      ['x-user-roles', 'a,b'],
    ],
  );
});

test('strips hop-by-hop headers, and those Connection names, from responses; keeps duplicates', () => {
  const raw = [
    'Connection',
    'X-Internal',
    'X-Internal',
    'secret',
    'Keep-Alive',
    'timeout=5',
    'Transfer-Encoding',
    'chunked',
    'Set-Cookie',
    'a=1',
    'Set-Cookie',
    'b=2',
    'Content-Type',
    'text/plain',
    'Content-Length',
    '12',
  ].map((text) => Buffer.from(text));
  assert.deepEqual(clientResponseHeaders(raw, 200), {
    headers: ['Set-Cookie', 'a=1', 'Set-Cookie', 'b=2', 'Content-Type', 'text/plain', 'Content-Length', '12'],
    contentLength: 12,
  });
});

test('response: the upstream X-Request-ID is dropped, the Content-Length of a 204 too', () => {
  const raw = ['X-Request-ID', 'theirs', 'Content-Length', '5', 'ETag', '"e"'].map((text) =>
    Buffer.from(text),
  );
  assert.deepEqual(clientResponseHeaders(raw, 204).headers, ['ETag', '"e"']);
  assert.deepEqual(clientResponseHeaders(raw, 304).headers, ['Content-Length', '5', 'ETag', '"e"']);
});

test('response: a transfer coding other than chunked is kept, chunked framing is redone by the server', () => {
  const coded = ['Transfer-Encoding', 'gzip, chunked'].map((text) => Buffer.from(text));
  assert.deepEqual(clientResponseHeaders(coded, 200).headers, ['transfer-encoding', 'gzip, chunked']);
  const plain = ['Transfer-Encoding', 'Chunked'].map((text) => Buffer.from(text));
  assert.deepEqual(clientResponseHeaders(plain, 200).headers, []);
});

test('request: pass_host sends the given Host, never the client copy otherwise', () => {
  const raw = ['Host', 'client.example', 'Accept', 'a'];
  const kept = pairs(upstreamRequestHeaders(raw, {}, { ...facts, host: 'client.example' }));
  assert.deepEqual(
    kept.filter(([name]) => name.toLowerCase() === 'host'),
    [['host', 'client.example']],
  );
  const dropped = pairs(upstreamRequestHeaders(raw, {}, facts));
  assert.equal(dropped.filter(([name]) => name.toLowerCase() === 'host').length, 0);
});
