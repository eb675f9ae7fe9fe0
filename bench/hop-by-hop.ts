// The headers the baseline proxies (bare-proxy.ts, fastify-proxy.ts) drop in both
// directions: they describe one connection, not the message, so a proxy must not pass
// them on.
export const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];
