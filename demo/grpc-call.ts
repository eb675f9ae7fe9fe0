// Calls the demo's gRPC service through the gateway with @grpc/grpc-js (h2c, prior
// knowledge on the gateway's plain port) and prints the reply or the gRPC status.
//   npm run demo:grpc -- [NAME] [TOKEN]       GATEWAY=host:port (default localhost:8080)
// With a token (step 1 of the demo), the reply shows the user id the gateway sent upstream.
import * as grpc from '@grpc/grpc-js';
import { loadGreeter } from './services/greeter.ts';

const [name = 'gatehouse', token] = process.argv.slice(2);
const address = process.env.GATEWAY ?? 'localhost:8080';
const Greeter = loadGreeter();
const client = new Greeter(address, grpc.credentials.createInsecure());
const metadata = new grpc.Metadata();
if (token) metadata.set('authorization', `Bearer ${token}`);

client.SayHello(
  { name },
  metadata,
  { deadline: Date.now() + 5000 },
  (error: grpc.ServiceError | null, reply: unknown) => {
    client.close();
    if (error) {
      console.error(`grpc-status ${error.code} (${grpc.status[error.code]}): ${error.details}`);
      process.exitCode = 1;
      return;
    }
    console.log(`grpc-status 0 (OK) ${JSON.stringify(reply)}`);
  },
);
