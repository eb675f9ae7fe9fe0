// Turns an auth answer (remote mode) or a JWT payload (jwt mode) into an Identity.
// The user id and roles end up in upstream request headers (X-User-ID, and
// X-User-Roles comma-joined), so every value is checked here, once, before it is
// cached: a value that could split a header, be trimmed into another value, or make
// Node's setHeader throw is refused, never cleaned up.

/** Who a request acts for, once a credential was verified: a user (bearer token) or a consumer (API key). */
export interface Identity {
  readonly userId: string;
  readonly roles: readonly string[];
  /** A bucket of this identity's own (an API key consumer's rate_limit), on top of the route's. */
  readonly rateLimit?: { readonly rate: number; readonly burst: number };
}

export const MAX_USER_ID_LENGTH = 256;
export const MAX_ROLE_LENGTH = 128;
export const MAX_ROLES = 100;

// Printable ASCII, inner spaces allowed, no leading or trailing whitespace (HTTP trims
// it, so " alice" would reach the upstream as "alice"). Control characters (CR, LF,
// NUL, DEL, ...) are out, and so is non-ASCII: Node refuses code points above 0xFF in
// a header and bytes 0x80-0xFF are read differently by different upstreams.
const SAFE_HEADER_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/;

/** Whether a value may be copied verbatim into a request header sent upstream. */
export function isSafeHeaderValue(value: string): boolean {
  return SAFE_HEADER_VALUE.test(value);
}

/** A role also must not contain a comma: the roles travel comma-joined in one header. */
export function isSafeRole(value: string): boolean {
  return value.length <= MAX_ROLE_LENGTH && isSafeHeaderValue(value) && !value.includes(',');
}

export function isSafeUserId(value: string): boolean {
  return value.length <= MAX_USER_ID_LENGTH && isSafeHeaderValue(value);
}

export interface ClaimNames {
  /** Fields tried in order for the user id; the first one present is used. */
  readonly userId: readonly string[];
  /** Fields tried in order for the roles; absent roles mean none. */
  readonly roles: readonly string[];
}

export type IdentityResult =
  | { readonly ok: true; readonly identity: Identity }
  /** `problem` is for logs: it names the field, never the value. */
  | { readonly ok: false; readonly problem: string };

export function identityFromClaims(
  claims: Readonly<Record<string, unknown>>,
  names: ClaimNames,
): IdentityResult {
  const userIdField = names.userId.find((name) => claims[name] !== undefined && claims[name] !== null);
  if (userIdField === undefined) return { ok: false, problem: `no user id (${names.userId.join(' or ')})` };
  const rawUserId = claims[userIdField];
  // Integer ids are common in auth answers; anything else that is not a string is not an id.
  const userId = Number.isSafeInteger(rawUserId) ? String(rawUserId) : rawUserId;
  if (typeof userId !== 'string' || !isSafeUserId(userId)) {
    return { ok: false, problem: `${userIdField} is not a usable user id` };
  }

  const rolesField = names.roles.find((name) => claims[name] !== undefined && claims[name] !== null);
  if (rolesField === undefined) return { ok: true, identity: freeze(userId, []) };
  const rawRoles = claims[rolesField];
  if (!Array.isArray(rawRoles) || rawRoles.length > MAX_ROLES) {
    return { ok: false, problem: `${rolesField} is not an array of at most ${MAX_ROLES} roles` };
  }
  const roles: string[] = [];
  for (const role of rawRoles) {
    if (typeof role !== 'string' || !isSafeRole(role)) {
      return { ok: false, problem: `${rolesField} holds a role that is not a usable header value` };
    }
    roles.push(role);
  }
  return { ok: true, identity: freeze(userId, roles) };
}

/** Identities are cached and shared between requests, so nobody may change one. */
function freeze(userId: string, roles: string[]): Identity {
  return Object.freeze({ userId, roles: Object.freeze(roles) });
}
