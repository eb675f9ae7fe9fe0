// Skips an upstream's `100 Continue` interim answers before undici sees them.
//
// RFC 9110 §15.2 lets a server send 1xx answers the client did not ask for, and a client
// must skip the ones it does not expect. undici (7.x and 8.x, client-h1.js) skips 102
// and 103 but destroys the socket on a 100 ("bad response"), which would turn a working
// upstream's answer into a 502. Gatehouse strips `Expect` before forwarding, so every 100
// an upstream sends is one to skip.
//
// The filter sits between the socket and undici's parser. It only looks at the first
// bytes of an answer: from the moment undici writes a request head until the first byte
// of a final or other interim answer, after which it passes bytes on untouched. Upstream connections
// carry one request at a time (pipelining: 1), so the bytes that follow a request head
// are the start of its answer. A head the filter cannot make sense of is passed on as
// it is, and undici fails it as it would have without the filter.
import type { Socket } from 'node:net';
import type { buildConnector as BuildConnector } from 'undici';
import type { ClientTlsOptions } from '../tls/certificates.ts';
import { connectOptions } from '../tls/client-options.ts';
import { buildConnector } from './undici-parts.ts';

/** An interim head larger than this is not skipped but handed to undici, which refuses it. */
const MAX_INTERIM_HEAD = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
/** "HTTP/1.x NNN" followed by a space or the line end. */
const STATUS_PREFIX = 13;
/** Where the status code starts, after "HTTP/1.x ". */
const STATUS_START = 9;

/**
 * The connector of every HTTP/1 client the gateway opens to a server it forwards to or
 * asks (upstreams, their health probes, the auth service): certificates always verified
 * with the configured TLS settings, connections bounded by `timeoutMs`, interim `100
 * Continue` answers skipped. Those clients must keep `pipelining: 1`.
 */
export function httpConnector(
  tls: ClientTlsOptions | undefined,
  timeoutMs: number,
): BuildConnector.connector {
  return skippingInterimContinue(buildConnector({ ...connectOptions(tls), timeout: timeoutMs }));
}

/** Wraps an undici connector so each socket it opens skips interim `100 Continue` answers. */
export function skippingInterimContinue(connector: BuildConnector.connector): BuildConnector.connector {
  return (options, callback) =>
    connector(options, (...args) => {
      const [error, socket] = args;
      if (error === null) skipInterimContinue(socket);
      callback(...args);
    });
}

/** Installs the filter on one socket (its own `push` and `write`: see the module comment). */
export function skipInterimContinue(socket: Socket): void {
  let atAnswerStart = false;
  let pending: Buffer | undefined;
  const push = socket.push.bind(socket);
  const write = socket.write;

  socket.write = function writeWatchingHeads(
    this: Socket,
    chunk: unknown,
    encoding?: unknown,
    callback?: unknown,
  ) {
    if (typeof chunk === 'string' && startsWithMethod(chunk)) atAnswerStart = true;
    return (write as (chunk: unknown, encoding?: unknown, callback?: unknown) => boolean).call(
      this,
      chunk,
      encoding,
      callback,
    );
  } as Socket['write'];

  socket.push = (chunk: Buffer | null, encoding?: BufferEncoding): boolean => {
    if (!atAnswerStart && pending === undefined) return push(chunk, encoding);
    if (chunk === null) return flush(pending) && push(null);
    let bytes = pending === undefined ? chunk : Buffer.concat([pending, chunk]);
    pending = undefined;
    for (;;) {
      if (bytes.length < STATUS_PREFIX) return couldBeInterim(bytes) ? hold(bytes) : flush(bytes);
      const status = interimStatus(bytes);
      if (status === undefined) return flush(bytes);
      const end = bytes.indexOf(HEAD_END);
      if (end < 0) return bytes.length <= MAX_INTERIM_HEAD ? hold(bytes) : flush(bytes);
      const headEnd = end + HEAD_END.length;
      // A 100 is dropped; 102 and 103 go on, as undici skips those itself.
      const more = status === 100 || push(bytes.subarray(0, headEnd));
      if (headEnd === bytes.length) return more;
      bytes = bytes.subarray(headEnd);
    }
  };

  function hold(bytes: Buffer): boolean {
    pending = bytes;
    return true;
  }

  /** Hands the bytes to undici and stops looking until the next request head. */
  function flush(bytes: Buffer | undefined): boolean {
    atAnswerStart = false;
    return bytes === undefined ? true : push(bytes);
  }
}

/**
 * undici writes a request head as one string that starts with the method (upper case);
 * its other strings are chunk sizes and the last chunk, which start with CR or a digit
 * or lower-case hex letter, and bodies reach the socket as Buffers.
 */
function startsWithMethod(chunk: string): boolean {
  const code = chunk.charCodeAt(0);
  return code >= 0x41 && code <= 0x5a;
}

const INTERIM_START = 'HTTP/1.1 1';
const INTERIM_STATUS = /^HTTP\/1\.[01] (1\d\d)[ \r]/;

/** Whether the bytes so far can still be the start of an interim head ("HTTP/1.0" or "HTTP/1.1"). */
function couldBeInterim(bytes: Buffer): boolean {
  const text = bytes.toString('latin1');
  for (let i = 0; i < text.length && i < INTERIM_START.length; i++) {
    const fits = i === 7 ? text[i] === '0' || text[i] === '1' : text[i] === INTERIM_START[i];
    if (!fits) return false;
  }
  return true;
}

/** The status of an interim (1xx, not 101) head at the start of the bytes, else undefined. */
function interimStatus(bytes: Buffer): number | undefined {
  // Most answers are final: a status not starting with 1 needs no decoding.
  if (bytes[STATUS_START] !== 0x31 /* 1 */) return undefined;
  const match = INTERIM_STATUS.exec(bytes.toString('latin1', 0, STATUS_PREFIX));
  const status = match === null ? undefined : Number(match[1]);
  return status === 101 ? undefined : status;
}
