// What a policy may write into a header. A policy (a plugin especially) sets headers
// from data it computed, and a header is where request smuggling and identity spoofing
// happen: a CR/LF in a value splits the message, a second Content-Length or
// Transfer-Encoding changes its framing, and Host, X-Forwarded-*, X-Request-ID and the
// identity headers are facts the gateway alone states. Such a write is a bug in the
// policy, refused with a typed error (the request then fails with 500), never cleaned
// up and never passed on.
import { GATEWAY_OWNED_HEADERS } from '../proxy/gateway-owned-headers.ts';
import { isHopByHop } from '../proxy/headers.ts';

/** A policy tried to write a header it may not write. */
export class HeaderPolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HeaderPolicyError';
  }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, obs-text, inner spaces and tabs: what RFC 9110 allows in a field value.
// Control characters (CR, LF, NUL, DEL...) are out.
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Framing and the facts the gateway states upstream itself. */
const GATEWAY_UPSTREAM = new Set(['content-length', 'transfer-encoding', ...GATEWAY_OWNED_HEADERS]);

/** Framing of the answer, and the correlation id the gateway sets. */
const GATEWAY_RESPONSE = new Set(['content-length', 'transfer-encoding', 'x-request-id']);

function checkValue(lower: string, value: string): void {
  if (typeof value !== 'string' || !FIELD_VALUE.test(value)) {
    throw new HeaderPolicyError(`the value for ${lower} holds a control character (CR, LF, NUL...)`);
  }
}

// Names a policy has written before, lower-cased: the built-in policies write the same
// few names on every request, so the name check runs once per name, not per request.
const checkedNames = new Map<string, string>();
const MAX_CHECKED_NAMES = 1024;

function checkName(name: string): string {
  const known = checkedNames.get(name);
  if (known !== undefined) return known;
  if (typeof name !== 'string' || !TOKEN.test(name)) throw new HeaderPolicyError('not a header name');
  const lower = name.toLowerCase();
  if (checkedNames.size < MAX_CHECKED_NAMES) checkedNames.set(name, lower);
  return lower;
}

/**
 * Returns the lower-cased name a policy may set upstream, or throws HeaderPolicyError.
 * `identityNames` are the configured identity headers (X-User-ID, X-User-Roles).
 */
export function checkUpstreamHeader(name: string, value: string, identityNames: ReadonlySet<string>): string {
  const lower = checkName(name);
  if (isHopByHop(lower) || GATEWAY_UPSTREAM.has(lower)) {
    throw new HeaderPolicyError(`${lower} is set by the gateway, not by a policy`);
  }
  const dashed = lower.replaceAll('_', '-');
  if (identityNames.has(lower) || identityNames.has(dashed) || dashed.startsWith('x-user-')) {
    throw new HeaderPolicyError(`${lower} is an identity header: only a verified credential sets it`);
  }
  checkValue(lower, value);
  return lower;
}

/** Returns the lower-cased name a policy may add to the answer, or throws HeaderPolicyError. */
export function checkResponseHeader(name: string, value: string): string {
  const lower = checkName(name);
  if (isHopByHop(lower) || GATEWAY_RESPONSE.has(lower)) {
    throw new HeaderPolicyError(`${lower} is set by the gateway, not by a policy`);
  }
  checkValue(lower, value);
  return lower;
}
