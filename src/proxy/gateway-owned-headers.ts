// The request headers the gateway sets itself on the way upstream. One list, because
// three places must agree on it: the forwarder drops any client copy (proxy/headers.ts),
// a plugin may not set them (policies/header-guard.ts), and a header transform may not
// touch them (rules/header-transform.ts).

/** Lower-cased names, Host first. */
export const GATEWAY_OWNED_HEADERS: readonly string[] = Object.freeze([
  'host',
  'x-request-id',
  'traceparent',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'forwarded',
  'x-real-ip',
]);
