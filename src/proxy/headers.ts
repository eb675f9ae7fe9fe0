// Header hygiene in both directions. Hop-by-hop headers and whatever the sender's
// Connection header names are dropped first, then the gateway adds its own, so a
// client writing `Connection: close, X-Forwarded-For` can't delete what we set.
import type { IncomingHttpHeaders } from 'node:http';
import { GATEWAY_OWNED_HEADERS } from './gateway-owned-headers.ts';

/**
 * Hop-by-hop per RFC 9110 7.6.1, plus headers undici refuses to be handed. A WebSocket
 * handshake's Upgrade is passed to undici as its `protocol` option instead.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'expect',
]);

/** Set by the gateway itself on the way upstream; any client copy is dropped. */
const GATEWAY_OWNED = new Set(GATEWAY_OWNED_HEADERS);

export interface UpstreamHeaderFacts {
  readonly requestId: string;
  readonly traceparent: string;
  /** The X-Forwarded-For value to send. */
  readonly forwardedFor: string;
  readonly forwardedProto: string;
  readonly forwardedHost: string | undefined;
  /** The Host to send instead of the instance's (`pass_host`), or undefined. */
  readonly host: string | undefined;
  /** Identity headers to add, as [name, value] pairs: only ever from the auth answer. */
  readonly identity: readonly string[] | undefined;
  /** Lower-cased identity header names; client copies are dropped whatever their spelling. */
  readonly identityNames: ReadonlySet<string>;
}

/** A flat [name, value, name, value, …] list for undici, duplicates kept. */
export function upstreamRequestHeaders(
  rawHeaders: readonly string[],
  headers: IncomingHttpHeaders,
  facts: UpstreamHeaderFacts,
): string[] {
  const named = connectionListed(headers.connection);
  const out: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (HOP_BY_HOP.has(name) || GATEWAY_OWNED.has(name) || named?.has(name)) continue;
    // An h2 request's pseudo-headers (:method, :path, :authority, :scheme) are framing, not fields.
    if (name.charCodeAt(0) === 58 /* : */) continue;
    if (isIdentityHeader(name, facts.identityNames)) continue;
    out.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  // undici takes a `host` entry as the request's Host instead of the instance's authority.
  if (facts.host !== undefined) out.push('host', facts.host);
  out.push('x-request-id', facts.requestId, 'traceparent', facts.traceparent);
  out.push('x-forwarded-for', facts.forwardedFor, 'x-forwarded-proto', facts.forwardedProto);
  if (facts.forwardedHost !== undefined) out.push('x-forwarded-host', facts.forwardedHost);
  if (facts.identity !== undefined) out.push(...facts.identity);
  return out;
}

/** Any X-User-* header (also spelt with underscores, any case) and the configured identity names. */
function isIdentityHeader(lowerName: string, identityNames: ReadonlySet<string>): boolean {
  if (identityNames.has(lowerName)) return true;
  if (lowerName.length < 7 || (lowerName.charCodeAt(0) !== 120 /* x */ && lowerName.charCodeAt(0) !== 88)) {
    return false;
  }
  const dashed = lowerName.replaceAll('_', '-');
  return dashed.startsWith('x-user-') || identityNames.has(dashed);
}

function connectionListed(connection: string | undefined): Set<string> | undefined {
  // The common values name no header: skip the parse.
  if (connection === undefined || connection === 'keep-alive' || connection === 'close') return undefined;
  const names = new Set<string>();
  for (const token of connection.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') names.add(name);
  }
  return names.size > 0 ? names : undefined;
}

export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName);
}

export interface ResponseHead {
  /** A flat [name, value, …] list for res.writeHead, duplicates (Set-Cookie) kept. */
  readonly headers: string[];
  readonly contentLength: number | undefined;
}

/** Set by the gateway on every answer; the upstream's copy is dropped so the client sees one. */
const RESPONSE_GATEWAY_OWNED = 'x-request-id';

/**
 * The upstream's raw response headers minus hop-by-hop ones, those its Connection header
 * names, and the gateway's own. A 204 never carries a Content-Length to the client
 * (RFC 9110 8.6). A transfer coding other than chunked (`gzip, chunked`) is kept: undici
 * has only removed the chunked framing, so the bytes are still coded, and the client is
 * told so; Node chunks them again because the value ends in `chunked`.
 */
export function clientResponseHeaders(rawHeaders: readonly Buffer[], statusCode: number): ResponseHead {
  const headers: string[] = [];
  let named: Set<string> | undefined;
  let contentLength: number | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') named = connectionListed(rawHeaders[i + 1].toString('latin1'));
      else if (lower === 'transfer-encoding') {
        const codings = codingsBeyondChunked(rawHeaders[i + 1].toString('latin1'));
        if (codings !== undefined) headers.push('transfer-encoding', `${codings}, chunked`);
      }
      continue;
    }
    if (lower === RESPONSE_GATEWAY_OWNED) continue;
    const value = rawHeaders[i + 1].toString('latin1');
    if (lower === 'content-length') {
      if (statusCode === 204) continue;
      contentLength = Number(value);
    }
    headers.push(name, value);
  }
  if (named === undefined) return { headers, contentLength };
  const kept: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const lower = headers[i].toLowerCase();
    // The upstream's Connection header may not remove what the gateway re-added.
    if (!named.has(lower) || lower === 'transfer-encoding') kept.push(headers[i], headers[i + 1]);
  }
  return { headers: kept, contentLength };
}

/** `gzip, chunked` -> `gzip`; plain `chunked` (or nothing else) -> undefined. */
function codingsBeyondChunked(value: string): string | undefined {
  if (value.length === 7 && value.toLowerCase() === 'chunked') return undefined;
  const codings: string[] = [];
  for (const token of value.split(',')) {
    const coding = token.trim().toLowerCase();
    if (coding !== '' && coding !== 'chunked') codings.push(coding);
  }
  return codings.length > 0 ? codings.join(', ') : undefined;
}
