// Client-side TLS for tests: a bare handshake that reports the certificate the server
// presented, and HTTPS requests (HTTP/1.1 through undici, h2 through node:http2) that
// trust the test CA.
import { type ClientHttp2Session, connect as h2connect, type IncomingHttpHeaders } from 'node:http2';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { Agent } from 'undici';
import { type SimpleResponse, send } from './http.ts';

export interface TlsClientOptions {
  readonly ca: Buffer;
  /** SNI name; omitted for an IP-only handshake. */
  readonly servername?: string;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

export interface Handshake {
  readonly serial: string;
  readonly subjectaltname: string | undefined;
  readonly alpn: string | false;
}

/** One TLS handshake; resolves with what the server presented, or rejects with the TLS error. */
export function handshake(url: string, options: TlsClientOptions & { alpn?: string[] }): Promise<Handshake> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: hostname,
      port: Number(port),
      ca: options.ca,
      servername: options.servername,
      cert: options.cert,
      key: options.key,
      ALPNProtocols: options.alpn,
      // Names are checked by the test itself (it asks for unknown names on purpose).
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      const peer: PeerCertificate = socket.getPeerCertificate();
      const alpn = socket.alpnProtocol;
      // A TLS 1.3 server refuses a client certificate after the handshake: read once more.
      socket.once('data', () => {});
      setTimeout(() => {
        if (socket.destroyed && socket.errored) reject(socket.errored);
        else resolve({ serial: peer.serialNumber, subjectaltname: peer.subjectaltname, alpn: alpn ?? false });
        socket.destroy();
      }, 100);
    });
    socket.once('error', reject);
  });
}

/** An undici agent that trusts the test CA and sends `servername` as SNI. */
export function tlsAgent(
  options: TlsClientOptions,
  extra: ConstructorParameters<typeof Agent>[0] = {},
): Agent {
  return new Agent({
    ...extra,
    connect: {
      ca: options.ca,
      servername: options.servername,
      cert: options.cert,
      key: options.key,
    },
  });
}

export function sendTls(
  url: string,
  agent: Agent,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<SimpleResponse> {
  return send(url, { ...options, dispatcher: agent });
}

export interface H2Response {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

export function h2Session(url: string, options: TlsClientOptions): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = h2connect(url, {
      ca: options.ca,
      servername: options.servername,
      cert: options.cert,
      key: options.key,
    });
    // Resolved once the server's SETTINGS arrived, so remoteSettings holds its limits.
    session.once('remoteSettings', () => resolve(session));
    session.once('error', reject);
  });
}

/** One h2 request on a session; `headers` are sent as given (pseudo-headers included). */
export function h2Request(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: string | Buffer,
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let responseHeaders: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      responseHeaders = h;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => {
      const data = Buffer.concat(chunks);
      resolve({
        status: Number(responseHeaders[':status']),
        headers: responseHeaders,
        body: data,
        json: <T>() => JSON.parse(data.toString()) as T,
      });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}
