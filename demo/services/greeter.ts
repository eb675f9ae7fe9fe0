// Demo gRPC service (@grpc/grpc-js, h2c): helloworld.Greeter/SayHello behind the
// gateway's grpc route, and grpc.health.v1.Health/Check for the gateway's gRPC health
// check. The reply shows the metadata the gateway added (request id, user id).
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { HEALTH_SERVICE, healthCheckResponse } from './grpc-health.ts';
import type { RunningService } from './http.ts';

export const GREETER_PROTO = fileURLToPath(new URL('greeter.proto', import.meta.url));

// biome-ignore lint/suspicious/noExplicitAny: grpc-js's loaded service types are dynamic
export function loadGreeter(): any {
  const definition = protoLoader.loadSync(GREETER_PROTO, { keepCase: true, defaults: true });
  // biome-ignore lint/suspicious/noExplicitAny: as above
  return (grpc.loadPackageDefinition(definition) as any).helloworld.Greeter;
}

const SERVING = healthCheckResponse(true);

export async function startGreeterService(port: number, host = '127.0.0.1'): Promise<RunningService> {
  const server = new grpc.Server();
  server.addService(HEALTH_SERVICE, {
    Check: (_call: unknown, callback: grpc.sendUnaryData<Buffer>) => callback(null, SERVING),
  });
  server.addService(loadGreeter().service, {
    // biome-ignore lint/suspicious/noExplicitAny: grpc-js call
    SayHello(call: any, callback: grpc.sendUnaryData<unknown>) {
      const name: string = call.request.name || 'world';
      const first = (key: string) => String(call.metadata.get(key)[0] ?? '');
      callback(null, {
        message: `Hello, ${name}!`,
        request_id: first('x-request-id'),
        user_id: first('x-user-id'),
      });
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return {
    url: `http://${host}:${bound}`,
    close: () =>
      new Promise((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 2000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}

if (import.meta.main) {
  const service = await startGreeterService(Number(process.env.PORT ?? 3005), process.env.HOST);
  console.log(`greeter gRPC service on ${service.url}`);
}
