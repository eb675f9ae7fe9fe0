// Closing the public listener without resetting keep-alive clients. Node's
// server.close() destroys every idle connection at once, but "idle" only means no
// request is being served: a keep-alive client may have just sent its next request,
// which then meets a closed socket (a reset, or "other side closed"). Instead:
// - new connections are refused at once (the listening socket closes);
// - answers in flight, and any request that still arrives, carry `Connection: close`
//   (the exchange and the data plane add it while draining), so each client closes
//   its connection after its answer;
// - a connection that was idle when draining began is closed only after it stayed
//   idle, with no byte received, for a grace period (1 s by default): a client in a
//   request loop sends within it and is answered with `Connection: close`, and a
//   client idle that long has nothing in flight. Under heavy load a client's next
//   request can take tens of milliseconds to arrive, hence a grace in seconds' scale.
import { Server as NetServer, type Socket } from 'node:net';

/** Any public listener: plain, TLS or HTTP/2 (structural, so this file imports none of them). */
type Listener = NetServer & { closeIdleConnections(): void };

export const DEFAULT_IDLE_GRACE_MS = 1000;
/** Emitted on a public listener when its drain starts. */
export const DRAIN_EVENT = 'gatehouse:drain';
/** How often idle connections are looked at. */
const SWEEP_MS = 50;

const connections = new WeakMap<NetServer, Set<Socket>>();

/** Records an HTTP/1 listener's connections (once, at creation), for drainListener to sweep. */
export function trackConnections(server: NetServer): void {
  const open = new Set<Socket>();
  connections.set(server, open);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.once('close', () => open.delete(socket));
  });
  // A WebSocket tunnel is no HTTP connection any more: the upgrade handler closes its own.
  server.on('upgrade', (_req, socket: Socket) => open.delete(socket));
}

export interface Draining {
  /** Resolves once the listener is closed and every connection has ended. */
  readonly closed: Promise<void>;
  /** Stops the idle sweep (the drain ended or its deadline passed). */
  stop(): void;
}

/**
 * Starts draining one public listener. An untracked one (HTTP/2, whose close() sends
 * GOAWAY) and a zero grace get the listener's own close and idle sweep.
 */
export function drainListener(server: Listener, idleGraceMs: number): Draining {
  // Connections the HTTP/1 sweep does not see (h2c sessions, server/h2c.ts) get GOAWAY now.
  server.emit(DRAIN_EVENT);
  const open = connections.get(server);
  if (open === undefined || idleGraceMs <= 0) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    const sweep = setInterval(() => server.closeIdleConnections(), 100);
    return { closed, stop: () => clearInterval(sweep) };
  }
  // net's close, not http's: stop accepting, but leave idle keep-alive connections to the sweep.
  const closed = new Promise<void>((resolve) => {
    NetServer.prototype.close.call(server, () => resolve());
  });
  /** Each idle connection: its bytesRead when it was first seen idle, and when. */
  let idle = new Map<Socket, { bytesRead: number; since: number }>();
  const sweepIdle = (): void => {
    const now = performance.now();
    const next = new Map<Socket, { bytesRead: number; since: number }>();
    for (const socket of open) {
      if (!isIdle(socket)) continue;
      const seen = idle.get(socket);
      if (seen === undefined || seen.bytesRead !== socket.bytesRead) {
        next.set(socket, { bytesRead: socket.bytesRead, since: now });
      } else if (now - seen.since >= idleGraceMs) {
        socket.destroy();
      } else {
        next.set(socket, seen);
      }
    }
    idle = next;
  };
  sweepIdle();
  const sweep = setInterval(sweepIdle, SWEEP_MS);
  return { closed, stop: () => clearInterval(sweep) };
}

/** No answer in progress on this HTTP/1 connection (node detaches the response when it finishes). */
function isIdle(socket: Socket): boolean {
  return (socket as Socket & { _httpMessage?: unknown })._httpMessage == null;
}
