// gRPC over TLS both ways: a grpc-js client with TLS credentials reaches the HTTPS
// listener by ALPN h2, and the gateway reaches a TLS gRPC server by ALPN h2, trusting
// it through services.<name>.tls.ca_file.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { EchoService, echoClient, grpc, type Msg, patterned } from '../helpers/grpc.ts';
import { createPki, opensslUnavailableReason, requireOpenssl, type TestPki } from '../helpers/pki.ts';

const hasOpenssl = opensslUnavailableReason() === undefined;
let pki: TestPki;
let server: grpc.Server;
let gw: TestGateway;
let port = 0;

before(async () => {
  if (!hasOpenssl) return;
  pki = createPki();
  const edge = pki.issue('edge', { sans: ['localhost'] });
  const inner = pki.issue('inner', { sans: ['localhost', 'IP:127.0.0.1'] });
  server = new grpc.Server();
  server.addService(EchoService.service, {
    // biome-ignore lint/suspicious/noExplicitAny: grpc-js call
    Unary(call: any, callback: grpc.sendUnaryData<Msg>) {
      callback(null, call.request);
    },
  });
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: inner.cert, private_key: inner.key }]),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    ),
  );
  gw = await startTestGateway({
    server: { tls: { certificates: [{ cert_file: edge.certFile, key_file: edge.keyFile }] } },
    services: {
      echo: {
        url: `https://127.0.0.1:${port}`,
        http2: true,
        tls: { ca_file: pki.caFile, server_name: 'localhost' },
      },
    },
    routes: [{ path: '/gatehouse.test.Echo', service: 'echo', grpc: true }],
  });
});

after(async () => {
  await gw?.close();
  server?.forceShutdown();
  pki?.remove();
});

test('a unary call over TLS to the gateway and over TLS to the instance, byte for byte', async (t) => {
  if (!requireOpenssl(t)) return;
  // The edge certificate names localhost; the gateway listens on 127.0.0.1.
  const client = echoClient(new URL(gw.url).host, grpc.credentials.createSsl(pki.ca), {
    'grpc.ssl_target_name_override': 'localhost',
  });
  const payload = patterned(3, 50_000);
  const response = await new Promise<Msg>((resolve, reject) =>
    client.Unary({ payload, text: 'tls' }, (error: Error | null, msg: Msg) =>
      error ? reject(error) : resolve(msg),
    ),
  );
  assert.deepEqual(response.payload, payload);
  assert.equal(response.text, 'tls');
  client.close();
});
