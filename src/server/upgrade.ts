// WebSocket tunnelling for routes with `websocket: true`. The handshake passes the same
// route match and policies as any request (auth, rate limit); on the upstream's 101
// the two sockets are joined byte for byte until either side closes.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { AccessLog } from '../observability/access-log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { classifyFailure, toGatewayError } from '../proxy/error-map.ts';
import type { Runtime } from '../runtime/build.ts';
import type { RuntimeHolder } from '../runtime/holder.ts';
import { beginRequest, headersForUpstream, routeRequest, runPolicies } from './ingress.ts';
import type { RequestState } from './request-state.ts';
import { endSocketWithError } from './send.ts';

/** Whether Node should treat this request as an upgrade; any other Upgrade (h2c…) is served as a plain request. */
export function shouldTunnel(holder: RuntimeHolder): (req: IncomingMessage) => boolean {
  return (req) => {
    if (req.headers.upgrade?.toLowerCase() !== 'websocket' || req.method !== 'GET') return false;
    try {
      const routed = routeRequest(holder.current, req);
      return typeof routed !== 'string' && routed.route.websocket;
    } catch {
      return false;
    }
  };
}

export interface UpgradeHandler {
  readonly handle: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Cuts the open tunnels: the server's own connection tracking does not cover upgraded sockets. */
  readonly destroyAll: () => void;
}

export function createUpgradeHandler(deps: {
  holder: RuntimeHolder;
  logger: Logger;
  accessLog: AccessLog;
  metrics: GatewayMetrics;
}): UpgradeHandler {
  const { holder, logger, accessLog, metrics } = deps;
  const open = new Set<Duplex>();
  const handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
    // Pinned through the handshake only (see RuntimeHolder): once the tunnel is open it
    // uses nothing a reload retires, and a long-lived WebSocket must not hold back the
    // retirement of what later reloads replaced.
    const runtime = holder.pin();
    let pinned = true;
    const unpin = () => {
      if (pinned) holder.release(runtime);
      pinned = false;
    };
    const { state, traceparent, peer } = beginRequest(req, runtime, logger);
    const outcome = {
      instance: undefined as string | undefined,
      upstreamMs: undefined,
      attempts: 1,
      responseBytes: undefined,
    };
    socket.on('error', () => socket.destroy());
    tunnel(runtime, state, socket, head, traceparent, peer, outcome, unpin)
      .then(
        (status) => status,
        (error: unknown) => rejectHandshake(socket, error, state),
      )
      .then((status) => {
        unpin();
        metrics.observeRequest(state.routeName, 'GET', status, (performance.now() - state.startedAt) / 1000);
        if (runtime.config.log.access_log) accessLog.record(state, status, outcome, true);
      });
  };
  return {
    handle,
    destroyAll: () => {
      for (const socket of open) socket.destroy();
    },
  };
}

async function tunnel(
  runtime: Runtime,
  state: RequestState,
  client: Duplex,
  head: Buffer,
  traceparent: string,
  peer: string,
  outcome: { instance: string | undefined },
  handshakeDone: () => void,
): Promise<number> {
  const routed = routeRequest(runtime, state.req, state);
  if (typeof routed === 'string') throw new GatewayError('BAD_REQUEST');
  const reply = await runPolicies(routed.route, state);
  if (reply) throw new GatewayError('BAD_REQUEST', { message: 'This request cannot be upgraded' });
  const lease = routed.route.target.pool.acquire();
  outcome.instance = lease.instance.origin;
  const abort = new AbortController();
  const onClientGone = () => abort.abort();
  client.once('close', onClientGone);
  let upgraded: { headers: Record<string, string | string[] | undefined>; socket: Duplex };
  try {
    upgraded = (await lease.instance.pool.upgrade({
      path: lease.instance.basePath + routed.upstreamPath,
      method: 'GET',
      protocol: state.req.headers.upgrade,
      headers: headersForUpstream(runtime, state, traceparent, peer),
      signal: abort.signal,
    })) as typeof upgraded;
  } catch (error) {
    const kind = abort.signal.aborted ? 'client' : classifyFailure(error);
    lease.release(kind === 'client' ? 'neutral' : kind === 'unreachable' ? 'unreachable' : 'failure');
    throw toGatewayError(error, kind);
  } finally {
    client.off('close', onClientGone);
    handshakeDone();
  }
  const upstream = upgraded.socket;
  let head101 = 'HTTP/1.1 101 Switching Protocols\r\n';
  for (const [name, value] of Object.entries({
    ...upgraded.headers,
    ...state.responseHeaders,
    'x-request-id': state.requestId,
  })) {
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
  return 101;
}

function rejectHandshake(socket: Duplex, error: unknown, state: RequestState): number {
  const gatewayError = isGatewayError(error) ? error : new GatewayError('INTERNAL_ERROR', { cause: error });
  if (!isGatewayError(error)) state.log.error({ err: error }, 'websocket handshake failed');
  endSocketWithError(socket, gatewayError, state.requestId, state.responseHeaders);
  return gatewayError.status;
}
