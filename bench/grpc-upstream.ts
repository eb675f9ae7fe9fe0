// The gRPC rows' upstream: node:http2 over h2c answering every call with one fixed
// message and grpc-status 0 in trailers, as cheap as node:http2 allows, so the two gRPC
// rows differ only by the gateway in front of it. Any path is served.
import { createServer } from 'node:http2';
import { frame } from './grpc-request.ts';

// Field 1 (string) "hello bench": a HelloReply { message: "hello bench" }.
const REPLY = frame(Buffer.from([0x0a, 0x0b, ...Buffer.from('hello bench')]));

const server = createServer();
server.on('stream', (stream) => {
  stream.on('error', () => {});
  stream.resume(); // the request message is read and dropped
  stream.on('end', () => {
    if (stream.destroyed) return;
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(REPLY);
  });
});
server.listen(Number(process.env.PORT), '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
