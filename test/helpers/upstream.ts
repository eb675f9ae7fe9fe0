// A real upstream server on a free port that records exactly what it received.
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly rawHeaders: readonly string[];
  readonly body: Buffer;
}

export type UpstreamHandler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

export interface TestUpstream {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  readonly requests: RecordedRequest[];
  /** Requests received for exactly this target (path and query). */
  hits(url: string): number;
  setHandler(handler: UpstreamHandler): void;
  close(): Promise<void>;
}

/** Answers 200 with a JSON echo of what it got, unless given another handler. */
export const echoHandler: UpstreamHandler = (req, res, body) => {
  const text = JSON.stringify({
    method: req.method,
    url: req.url,
    headers: req.headers,
    bodyLength: body.length,
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
};

export async function startUpstream(
  handler: UpstreamHandler = echoHandler,
  host = '127.0.0.1',
  port = 0,
): Promise<TestUpstream> {
  let current = handler;
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      requests.push({
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      current(req, res, body);
    });
  });
  server.keepAliveTimeout = 10_000;
  server.listen(port, host);
  await once(server, 'listening');
  const actualPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actualPort}`,
    port: actualPort,
    server,
    requests,
    hits: (url) => requests.filter((request) => request.url === url).length,
    setHandler(next) {
      current = next;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A free port that nothing listens on: connections to it are refused. */
export async function refusedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface RawUpstream {
  readonly url: string;
  /** Every request head received, exactly as its bytes arrived (latin1). */
  readonly heads: string[];
  close(): Promise<void>;
}

/**
 * An upstream that answers with bytes of the test's choosing, for answers node:http
 * would never write (an unsolicited 100, a broken body, odd codings). `answer` is called
 * once per request head (requests here carry no body) with the socket to write to.
 */
export async function startRawUpstream(answer: (socket: Socket, head: string) => void): Promise<RawUpstream> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server = createNetServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      for (let end = buffered.indexOf('\r\n\r\n'); end >= 0; end = buffered.indexOf('\r\n\r\n')) {
        const head = buffered.slice(0, end + 4);
        buffered = buffered.slice(end + 4);
        heads.push(head);
        answer(socket, head);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    heads,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
