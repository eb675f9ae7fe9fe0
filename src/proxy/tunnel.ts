// The upstream half of a WebSocket tunnel: pick an instance, ask it to upgrade, answer
// the client's handshake with the instance's 101, then join the two sockets byte for
// byte until either side closes. The listener side (policies, refusals, access log)
// stays in server/upgrade.ts.
import type { Duplex } from 'node:stream';
import { classifyFailure, toGatewayError } from './error-map.ts';
import type { ForwardTarget } from './forward.ts';

export interface TunnelRequest {
  /** Path and query as the instance should see them, before its base path. */
  readonly path: string;
  /** The Upgrade protocol the client asked for. */
  readonly protocol: string | undefined;
  readonly headers: string[];
  /** Headers the gateway adds to the 101 (X-Request-ID among them), over the instance's. */
  readonly responseHeaders: Readonly<Record<string, string>>;
  /** Called once the instance accepted or refused the upgrade, before the tunnel runs. */
  readonly handshakeDone: () => void;
}

/** Resolves once the tunnel has closed; throws GatewayError when no instance accepted the upgrade. */
export async function tunnel(
  target: ForwardTarget,
  client: Duplex,
  head: Buffer,
  request: TunnelRequest,
  outcome: { instance: string | undefined },
): Promise<void> {
  const lease = target.pool.acquire();
  outcome.instance = lease.instance.origin;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  client.once('close', onClientGone);
  let upgraded: { headers: Record<string, string | string[] | undefined>; socket: Duplex };
  try {
    upgraded = (await lease.instance.pool.upgrade({
      path: lease.instance.basePath + request.path,
      method: 'GET',
      protocol: request.protocol,
      headers: request.headers,
      signal: abort.signal,
    })) as typeof upgraded;
  } catch (error) {
    const kind = abort.signal.aborted ? 'client' : classifyFailure(error);
    lease.release(kind === 'client' ? 'neutral' : kind === 'unreachable' ? 'unreachable' : 'failure');
    throw toGatewayError(error, kind);
  } finally {
    client.off('close', onClientGone);
    request.handshakeDone();
  }
  const upstream = upgraded.socket;
  let head101 = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [name, value] of Object.entries({ ...upgraded.headers, ...request.responseHeaders })) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) head101 += `${name}: ${one}\r\n`;
  }
  client.write(`${head101}\r\n`);
  if (head.length > 0) upstream.write(head);
  // HTTP server sockets allow half-open connections, so a peer's FIN arrives as 'end'
  // without 'close'. WebSocket has its own closing handshake: either side ending ends both.
  await new Promise<void>((resolve) => {
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      client.destroy();
      upstream.destroy();
      resolve();
    };
    for (const side of [client, upstream]) {
      side.once('end', done);
      side.once('close', done);
      side.on('error', done);
    }
    upstream.pipe(client);
    client.pipe(upstream);
  });
  lease.release('success');
}
