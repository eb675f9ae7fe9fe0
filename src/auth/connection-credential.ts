// The cache key of a bearer credential, remembered per connection. A client's keep-alive
// connection (or HTTP/2 session) sends the same Authorization value on every request,
// and its parse and SHA-256 were the largest cost of a cached-token request (about 1.5%
// of the whole chain's busy time). Each connection keeps its last value and that value's
// key, held weakly: gone with the connection. This holds a raw credential for as long as
// the connection that carries it is open, no longer; the verification cache itself still
// keeps only keys (verification-cache.ts).
import { parseAuthorization } from './bearer.ts';
import { credentialKey } from './verification-cache.ts';

interface Remembered {
  readonly authorization: string;
  readonly key: string;
}

const lastOnConnection = new WeakMap<object, Remembered>();

/** The cache key of a bearer Authorization value, or undefined when it is not a well-formed bearer credential. */
export function bearerKey(authorization: string, connection: object | undefined): string | undefined {
  const last = connection === undefined ? undefined : lastOnConnection.get(connection);
  if (last !== undefined && last.authorization === authorization) return last.key;
  if (parseAuthorization(authorization).kind !== 'bearer') return undefined;
  const key = credentialKey(authorization);
  if (connection !== undefined) lastOnConnection.set(connection, { authorization, key });
  return key;
}
