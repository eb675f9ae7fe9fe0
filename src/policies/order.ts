// Which orders of routes[].policies the gateway accepts. Checked with the rest of the
// config (so `validate` names the route and the line), before anything is built.
// An order is refused when it could not mean what it says:
// - a name that is neither a built-in nor a plugin of the plugins section, or twice;
// - a built-in that applies to the route left out (cors with a cors section, ip with
//   ip_allow / ip_deny, auth on an auth route, roles when the route lists roles, rate_limit with a rate_limit
//   section): leaving it out would silently switch it off;
// - roles before auth, or roles without auth: the roles come from the identity;
// - a rate limit keyed by user (route rate_limit.key: user) before auth or without it.
// A rate limit before auth is fine: it keys by address then, which is how a route
// protects the auth service from a flood of bad credentials.

export const BUILTIN_NAMES: readonly string[] = ['cors', 'ip', 'auth', 'roles', 'rate_limit'];

export interface OrderFacts {
  readonly policies: readonly string[] | undefined;
  readonly authMode: 'required' | 'optional' | 'none';
  readonly roles: readonly string[] | undefined;
  readonly rateLimitKey: string | undefined;
  readonly hasCors: boolean;
  readonly hasIpRules: boolean;
  readonly hasRateLimit: boolean;
  readonly pluginNames: readonly string[];
}

export interface OrderProblem {
  /** Path under the route: ['policies'], ['policies', 2], ['roles']... */
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export function orderProblems(facts: OrderFacts): OrderProblem[] {
  const problems: OrderProblem[] = [];
  const hasAuth = facts.authMode !== 'none';
  if (facts.roles !== undefined && !hasAuth) {
    problems.push({ path: ['roles'], message: 'roles need auth on the route (auth: required or optional)' });
  }
  if (facts.rateLimitKey === 'user' && facts.authMode !== 'required') {
    problems.push({ path: ['rate_limit', 'key'], message: 'a limit keyed by user needs auth: required' });
  }
  const order = facts.policies;
  if (order === undefined) return problems;

  const seen = new Set<string>();
  order.forEach((name, index) => {
    if (!BUILTIN_NAMES.includes(name) && !facts.pluginNames.includes(name)) {
      problems.push({
        path: ['policies', index],
        message: `unknown policy "${name}" (built-ins: ${BUILTIN_NAMES.join(', ')}${
          facts.pluginNames.length > 0 ? `; plugins: ${facts.pluginNames.join(', ')}` : ''
        })`,
      });
    }
    if (seen.has(name)) problems.push({ path: ['policies', index], message: `${name} is listed twice` });
    seen.add(name);
  });

  const applies: [string, boolean][] = [
    ['cors', facts.hasCors],
    ['ip', facts.hasIpRules],
    ['auth', hasAuth],
    ['roles', facts.roles !== undefined],
    ['rate_limit', facts.hasRateLimit],
  ];
  const missing = applies.filter(([name, on]) => on && !seen.has(name)).map(([name]) => name);
  if (missing.length > 0) {
    problems.push({
      path: ['policies'],
      message: `${missing.join(', ')} applies to this route but is not listed (list it, or switch it off on the route)`,
    });
  }
  const at = (name: string) => order.indexOf(name);
  if (seen.has('roles') && seen.has('auth') && at('roles') < at('auth')) {
    problems.push({
      path: ['policies', at('roles')],
      message: 'roles must come after auth: they are read from the identity',
    });
  }
  if (facts.rateLimitKey === 'user' && seen.has('auth') && at('rate_limit') < at('auth')) {
    problems.push({
      path: ['policies', at('rate_limit')],
      message: 'rate_limit keyed by user must come after auth (before auth, only the address is known)',
    });
  }
  return problems;
}
