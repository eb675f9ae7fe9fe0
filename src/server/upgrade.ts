// The listener side of WebSocket tunnelling for routes with `websocket: true`: the
// handshake passes the same route match and policies as any request (auth, rate
// limit), refusals are answered on the raw socket, and each tunnel is logged and
// counted. The upstream half (instance, 101, joining the sockets) is proxy/tunnel.ts.
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { GatewayError, isGatewayError } from '../errors.ts';
import type { AccessLog } from '../observability/access-log.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { tunnel } from '../proxy/tunnel.ts';
import type { Runtime } from '../runtime/build.ts';
import type { RuntimeHolder } from '../runtime/holder.ts';
import { beginRequest, headersForUpstream, routeRequest, runPolicies } from './ingress.ts';
import { refuseRequestHead } from './request-head.ts';
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
      brokenAfterStart: undefined,
    };
    socket.on('error', () => socket.destroy());
    handshake(runtime, state, socket, head, traceparent, peer, outcome, unpin)
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

async function handshake(
  runtime: Runtime,
  state: RequestState,
  client: Duplex,
  head: Buffer,
  traceparent: string,
  peer: string,
  outcome: { instance: string | undefined },
  handshakeDone: () => void,
): Promise<number> {
  const refusal = refuseRequestHead(state.req);
  if (refusal) throw refusal;
  const routed = routeRequest(runtime, state.req, state);
  if (typeof routed === 'string') throw new GatewayError('BAD_REQUEST');
  const reply = await runPolicies(routed.route, state);
  if (reply) throw new GatewayError('BAD_REQUEST', { message: 'This request cannot be upgraded' });
  const route = routed.route;
  const target = route.split ? route.split(state.req.headers) : route.target;
  const headers = headersForUpstream(runtime, state, traceparent, peer, target.passHost);
  route.requestHeaders?.(headers, state);
  await tunnel(
    target,
    client,
    head,
    {
      path: routed.upstreamPath,
      protocol: state.req.headers.upgrade,
      headers,
      responseHeaders: { ...state.responseHeaders, 'x-request-id': state.requestId },
      handshakeDone,
    },
    outcome,
  );
  return 101;
}

function rejectHandshake(socket: Duplex, error: unknown, state: RequestState): number {
  const gatewayError = isGatewayError(error) ? error : new GatewayError('INTERNAL_ERROR', { cause: error });
  if (!isGatewayError(error)) state.log.error({ err: error }, 'websocket handshake failed');
  endSocketWithError(socket, gatewayError, state.requestId, state.responseHeaders);
  return gatewayError.status;
}
