// Client-side helpers: undici requests with no pooling surprises, and raw sockets
// for what the HTTP parser decides (a real client library would refuse to send it).
import { connect } from 'node:net';
import { Client, type Dispatcher, request as undiciRequest } from 'undici';

export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export async function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | string[]>;
    body?: string | Buffer | AsyncIterable<Buffer>;
    /** Another agent than undici's global one (e.g. one that trusts the test CA). */
    dispatcher?: Dispatcher;
  } = {},
): Promise<SimpleResponse> {
  const response = await undiciRequest(url, {
    method: (options.method ?? 'GET') as 'GET',
    headers: options.headers,
    body: options.body as string,
    dispatcher: options.dispatcher,
  });
  const body = Buffer.from(await response.body.arrayBuffer());
  return {
    status: response.statusCode,
    headers: response.headers,
    body,
    json: <T>() => JSON.parse(body.toString()) as T,
  };
}

/** Writes bytes to a socket and returns everything read until the server closes or `waitMs` passes. */
export async function rawExchange(url: string, bytes: string | Buffer, waitMs = 2000): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    }, waitMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(Buffer.concat(chunks).toString('latin1'));
      else reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes);
  });
}

/**
 * `perConnection` requests on each of `connections` separate connections, in parallel;
 * their statuses. New connections, so a gateway with several workers spreads them.
 */
export async function spread(
  url: string,
  path: string,
  connections: number,
  perConnection: number,
): Promise<number[]> {
  const statuses = await Promise.all(
    Array.from({ length: connections }, async () => {
      const client = new Client(url);
      try {
        const out: number[] = [];
        for (let i = 0; i < perConnection; i++) {
          const res = await client.request({ method: 'GET', path });
          await res.body.dump();
          out.push(res.statusCode);
        }
        return out;
      } finally {
        await client.close();
      }
    }),
  );
  return statuses.flat();
}
