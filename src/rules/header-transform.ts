// A route's request_headers / response_headers: set, add and remove, with values that
// may name ${request_id}, ${client_ip}, ${user_id} or ${route}. Templates are parsed
// once at config time into parts; a request only joins strings. Headers that carry
// the message's framing, its hop-by-hop meaning, its Host, the caller's identity or
// what the gateway itself vouches for (request id, forwarding chain) can't be touched
// this way: a transform that could, would undo the gateway's own hygiene.
import { GATEWAY_OWNED_HEADERS } from '../proxy/gateway-owned-headers.ts';

export interface HeaderTransformConfig {
  readonly set: Readonly<Record<string, string>>;
  readonly add: Readonly<Record<string, string>>;
  readonly remove: readonly string[];
}

/** What a template can name; RequestState provides it. */
export interface TemplateSource {
  readonly requestId: string;
  readonly clientIp: string;
  readonly identity: { readonly userId: string } | undefined;
  readonly routeName: string;
}

/** Edits a flat [name, value, name, value, …] header list in place. */
export type HeaderTransform = (headers: string[], source: TemplateSource) => void;

const PLACEHOLDERS: Readonly<Record<string, (source: TemplateSource) => string>> = {
  request_id: (source) => source.requestId,
  client_ip: (source) => source.clientIp,
  user_id: (source) => source.identity?.userId ?? '',
  route: (source) => source.routeName,
};

const FORBIDDEN: ReadonlyMap<string, string> = new Map([
  ...['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade', 'expect'].map(
    (name) => [name, 'a hop-by-hop header'] as const,
  ),
  ...['proxy-authorization', 'proxy-authenticate'].map((name) => [name, 'a hop-by-hop header'] as const),
  ...['content-length', 'transfer-encoding'].map((name) => [name, 'a framing header'] as const),
  ['host', 'the Host, which comes from the instance (or pass_host)'],
  ...GATEWAY_OWNED_HEADERS.filter((name) => name !== 'host').map(
    (name) => [name, 'set by the gateway itself'] as const,
  ),
]);

/**
 * Why `name` may not be set, added or removed by a transform, or undefined.
 * `identityNames` are the lower-cased configured identity headers (auth.user_id_header…).
 */
export function forbiddenHeaderProblem(
  name: string,
  identityNames: readonly string[] = [],
): string | undefined {
  const lower = name.toLowerCase();
  const reason = FORBIDDEN.get(lower);
  if (reason) return `${name} is ${reason} and cannot be changed by a transform`;
  const dashed = lower.replaceAll('_', '-');
  if (dashed.startsWith('x-user-') || identityNames.includes(dashed)) {
    return `${name} is an identity header: only the auth answer sets it`;
  }
  return undefined;
}

/** Why a value template is refused, or undefined. */
export function valueTemplateProblem(template: string): string | undefined {
  if (/[\r\n\x00]/.test(template)) return 'a header value cannot hold CR, LF or NUL';
  for (const match of template.matchAll(/\$\{([^}]*)\}/g)) {
    if (!(match[1] in PLACEHOLDERS)) {
      return `unknown placeholder \${${match[1]}}; use ${Object.keys(PLACEHOLDERS)
        .map((name) => `\${${name}}`)
        .join(', ')}`;
    }
  }
  return undefined;
}

type Render = (source: TemplateSource) => string;

/** Parses a template once: a literal costs nothing per request, a placeholder one call. */
export function compileTemplate(template: string): Render {
  const parts: (string | Render)[] = [];
  let last = 0;
  for (const match of template.matchAll(/\$\{([^}]*)\}/g)) {
    if (match.index > last) parts.push(template.slice(last, match.index));
    parts.push(PLACEHOLDERS[match[1]]);
    last = match.index + match[0].length;
  }
  if (last < template.length) parts.push(template.slice(last));
  if (parts.length === 0) return () => '';
  if (parts.length === 1) {
    const only = parts[0];
    return typeof only === 'string' ? () => only : only;
  }
  return (source) => {
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : part(source);
    return out;
  };
}

/** null when the route transforms nothing in this direction. */
export function compileHeaderTransform(config: HeaderTransformConfig | undefined): HeaderTransform | null {
  if (!config) return null;
  const set = Object.entries(config.set).map(([name, value]) => [name, compileTemplate(value)] as const);
  const add = Object.entries(config.add).map(([name, value]) => [name, compileTemplate(value)] as const);
  // `set` replaces: the names it sets are removed first, with the `remove` ones.
  const dropped = new Set([...config.remove, ...Object.keys(config.set)].map((name) => name.toLowerCase()));
  if (set.length === 0 && add.length === 0 && dropped.size === 0) return null;

  return (headers, source) => {
    if (dropped.size > 0) {
      let kept = 0;
      for (let i = 0; i < headers.length; i += 2) {
        if (dropped.has(headers[i].toLowerCase())) continue;
        headers[kept++] = headers[i];
        headers[kept++] = headers[i + 1];
      }
      headers.length = kept;
    }
    // A value that renders empty (${user_id} without a caller) is not sent at all.
    for (const [name, render] of set) {
      const value = render(source);
      if (value !== '') headers.push(name, value);
    }
    for (const [name, render] of add) {
      const value = render(source);
      if (value !== '') headers.push(name, value);
    }
  };
}
