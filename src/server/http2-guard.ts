// Defences of one HTTP/2 connection that Node's own limits do not cover:
//   - rapid reset (CVE-2023-44487): a client that opens streams and cancels them at
//     once makes the gateway start work it never finishes, at no cost to itself. Streams
//     the client cancels before their answer ended are counted per connection; past
//     `maxResets` within `windowMs` the connection gets GOAWAY (ENHANCE_YOUR_CALM) and is
//     destroyed.
//   - idle connections: an HTTP/2 connection without open streams is closed (GOAWAY,
//     graceful) after the keep-alive timeout, as an idle HTTP/1.1 connection would be.
// Concurrent streams, header list size, invalid frames and refused streams are bounded
// by the session options below, which every h2 listener (TLS and h2c) passes to node:http2.
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { ServerConfig } from '../config/schema.ts';

/** What a public listener reports of its h2 connections. */
export interface Http2Events {
  readonly onRapidReset?: (session: ServerHttp2Session) => void;
}

/** node:http2's own bounds for a public h2 server, from the config. */
export function http2SessionOptions(server: ServerConfig) {
  return {
    settings: {
      maxConcurrentStreams: server.http2_max_concurrent_streams,
      maxHeaderListSize: server.max_header_size,
      enablePush: false,
    },
    // Node's defaults are 1000 and 100; a well-behaved client sends no invalid frame.
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
  };
}

/** Guards each new session with the config's rapid-reset and idle limits. */
export function sessionGuardFor(
  server: ServerConfig,
  events: Http2Events,
): (session: ServerHttp2Session) => void {
  const settings: Http2GuardSettings = {
    maxResets: server.http2_max_resets,
    windowMs: server.http2_reset_window,
    idleTimeoutMs: server.keep_alive_timeout,
    onRapidReset: (session) => events.onRapidReset?.(session),
  };
  return (session) => guardSession(session, settings);
}

export interface Http2GuardSettings {
  readonly maxResets: number;
  readonly windowMs: number;
  readonly idleTimeoutMs: number;
  /** Called once when a connection is cut for resetting too many streams. */
  readonly onRapidReset: (session: ServerHttp2Session) => void;
}

export function guardSession(session: ServerHttp2Session, settings: Http2GuardSettings): void {
  let open = 0;
  let resets = 0;
  let windowStart = performance.now();

  session.setTimeout(settings.idleTimeoutMs, () => {
    if (open === 0) session.close();
  });

  session.on('stream', (stream: ServerHttp2Stream) => {
    open++;
    stream.once('close', () => {
      open--;
      if (stream.rstCode === constants.NGHTTP2_NO_ERROR || !cancelledByPeer(stream)) return;
      const now = performance.now();
      if (now - windowStart > settings.windowMs) {
        windowStart = now;
        resets = 0;
      }
      resets++;
      if (resets === settings.maxResets + 1 && !session.destroyed) {
        settings.onRapidReset(session);
        session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
        // Give the GOAWAY frame a moment to leave, then drop whatever the client still holds.
        setTimeout(() => session.destroy(), 50).unref();
      }
    });
  });
}

/** The client reset the stream (RST_STREAM) before the gateway finished its answer. */
function cancelledByPeer(stream: ServerHttp2Stream): boolean {
  return stream.aborted || !stream.writableFinished;
}
