// A real HTTPS server on a free port with a certificate from a test CA: an upstream
// (or auth service) that speaks TLS, optionally demanding a client certificate.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IssuedCertificate } from './pki.ts';

export interface HttpsUpstream {
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Subject CNs of the client certificates seen, one per request. */
  readonly clientSubjects: (string | undefined)[];
  close(): Promise<void>;
}

export async function startHttpsUpstream(
  certificate: IssuedCertificate,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  options: { clientCa?: Buffer } = {},
): Promise<HttpsUpstream> {
  const clientSubjects: (string | undefined)[] = [];
  const server = createServer(
    {
      cert: certificate.cert,
      key: certificate.key,
      ca: options.clientCa,
      requestCert: options.clientCa !== undefined,
      rejectUnauthorized: options.clientCa !== undefined,
    },
    (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      const cn = peer?.subject?.CN;
      clientSubjects.push(Array.isArray(cn) ? cn[0] : cn);
      handler(req, res);
    },
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    server,
    clientSubjects,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
