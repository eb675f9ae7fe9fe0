// A real JWKS endpoint for the jwt-mode tests: node:http on a free port serving
// whatever key set it is given, counting fetches; `down` closes the listener.
import { createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { JSONWebKeySet } from 'jose';

export interface JwksServer {
  readonly url: string;
  readonly fetches: number;
  setKeys(jwks: JSONWebKeySet): void;
  /** Answers this status (and no keys) instead, until set back to 200. */
  setStatus(status: number): void;
  setDown(down: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startJwksServer(initial: JSONWebKeySet): Promise<JwksServer> {
  let jwks = initial;
  let status = 200;
  let fetches = 0;
  let down = false;
  const sockets = new Set<Socket>();
  const server = createServer((_req, res) => {
    fetches++;
    const body = status === 200 ? JSON.stringify(jwks) : '{"error":"unavailable"}';
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const stop = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    get fetches() {
      return fetches;
    },
    setKeys(next) {
      jwks = next;
    },
    setStatus(next) {
      status = next;
    },
    async setDown(next) {
      if (next && !down) await stop();
      if (!next && down) await listen(port);
      down = next;
    },
    async close() {
      if (!down) await stop();
      down = true;
    },
  };
}
