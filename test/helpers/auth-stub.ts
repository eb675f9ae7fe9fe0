// A real auth service for tests and the demo: node:http on a port (0 = a free one),
// answering `GET <path>` by the client's bearer token. It counts every verify call and
// records what it was sent, and its behaviour can be switched at any time:
//
//   normal   known token -> its status (200 by default) with its JSON body; others -> 401
//   error    500 to everything
//   hang     reads the request and never answers
//   garbage  200 with a body that is not JSON
//   down     the listener is closed (connection refused); switching back re-opens it
//            on the same port
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type AuthStubMode = 'normal' | 'error' | 'hang' | 'garbage' | 'down';

/** The JSON the stub answers for a token, e.g. { user_id, roles, exp }. */
export type AuthStubAnswer = Readonly<Record<string, unknown>>;

export interface AuthStubRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
}

export interface AuthStub {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** url + path: what auth.verify_url should be. */
  readonly verifyUrl: string;
  readonly port: number;
  /** Verify requests received (in every mode but down). */
  readonly calls: number;
  /** Every verify request received, oldest first. */
  readonly requests: readonly AuthStubRequest[];
  readonly mode: AuthStubMode;
  setMode(mode: AuthStubMode): Promise<void>;
  /** Makes `token` valid (or answered with `status`, e.g. 403) with `answer` as the JSON body. */
  addToken(token: string, answer: AuthStubAnswer, status?: number): void;
  removeToken(token: string): void;
  resetCalls(): void;
  close(): Promise<void>;
}

export interface AuthStubOptions {
  readonly host?: string;
  readonly port?: number;
  /** Path of the verify endpoint; default /auth/verify. */
  readonly path?: string;
  readonly tokens?: Readonly<Record<string, AuthStubAnswer>>;
  /** In normal mode, answer this long after the request was read: a verify call that takes time. */
  readonly answerDelayMs?: number;
}

export async function startAuthStub(options: AuthStubOptions = {}): Promise<AuthStub> {
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/auth/verify';
  const tokens = new Map<string, { answer: AuthStubAnswer; status: number }>(
    Object.entries(options.tokens ?? {}).map(([token, answer]) => [token, { answer, status: 200 }]),
  );
  const requests: AuthStubRequest[] = [];
  const sockets = new Set<Socket>();
  let mode: AuthStubMode = 'normal';

  const server = createServer((req, res) => {
    if (req.url?.split('?')[0] !== path) return send(res, 404, { error: 'not found' });
    requests.push({ method: req.method ?? '', url: req.url, headers: { ...req.headers } });
    // Read the whole request before answering, like a real service would.
    req.resume();
    req.on('end', () => {
      if (mode === 'hang') return;
      if (mode === 'error') return send(res, 500, { error: 'internal' });
      if (mode === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end('<html>definitely not json');
      }
      const match = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
      const known = match ? tokens.get(match[1]) : undefined;
      const answer = () =>
        known ? send(res, known.status, known.answer) : send(res, 401, { error: 'invalid token' });
      if (options.answerDelayMs) setTimeout(answer, options.answerDelayMs).unref();
      else answer();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;

  function listen(onPort: number): Promise<void> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  }

  async function stopListening(): Promise<void> {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  }

  return {
    url,
    verifyUrl: url + path,
    port,
    get calls() {
      return requests.length;
    },
    get requests() {
      return requests;
    },
    get mode() {
      return mode;
    },
    async setMode(next) {
      const wasDown = mode === 'down';
      mode = next;
      if (next === 'down' && !wasDown) await stopListening();
      else if (next !== 'down' && wasDown) await listen(port);
      // Hanging requests from before stay hung; clients time them out.
    },
    addToken(token, answer, status = 200) {
      tokens.set(token, { answer, status });
    },
    removeToken(token) {
      tokens.delete(token);
    },
    resetCalls() {
      requests.length = 0;
    },
    async close() {
      if (mode !== 'down') await stopListening();
      mode = 'down';
    },
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
