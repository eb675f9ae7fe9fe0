// The bench's no-op plugin: a policy that does nothing, so its row measures what the
// plugin contract itself costs (the chain step, the request view) against the plain route.
export default () => () => undefined;
