// The request target is normalized once, before matching, and the same normalized
// path is what gets forwarded: the routing decision and the upstream can never
// disagree about which resource was asked for (no /public/../admin escapes).
//
// `;` in the path is refused. Servers behind the gateway (Tomcat, Jetty, Spring) cut
// path parameters out of each segment before they route, so `/app/admin;x/secret` is
// `/app/admin/secret` to them while the gateway would match it as written: a route's
// auth could be skipped. Stripping the parameters here instead would silently change
// the resource for the servers that do use them (`;jsessionid=`); a 400 says plainly
// that the gateway cannot forward such a path with one meaning.

export type NormalizedTarget = { readonly path: string; readonly query: string } | { readonly error: string };

// Anything that could change a path's meaning once decoded or resolved.
const NEEDS_WORK = /[%.\\;\x00-\x1f\x7f]|\/\//;
const UNRESERVED = /[A-Za-z0-9\-._~]/;

export function normalizeTarget(target: string): NormalizedTarget {
  if (target.charCodeAt(0) !== 47 /* / */) {
    return { error: 'the request target must be a path starting with /' };
  }
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt);
  if (query.includes('#') || rawPath.includes('#'))
    return { error: 'the request target must not hold a fragment' };
  if (!NEEDS_WORK.test(rawPath)) return { path: rawPath, query };

  const decoded = decodeUnreserved(rawPath);
  if (typeof decoded !== 'string') return decoded;
  return resolveSegments(decoded, query);
}

/**
 * Decodes percent-escapes of unreserved characters (so %2e is a dot) and upper-cases
 * the rest; refuses the escapes that would smuggle a separator or a control byte.
 */
function decodeUnreserved(path: string): string | { error: string } {
  if (/[\\\x00-\x1f\x7f]/.test(path)) return { error: 'the path holds a backslash or a control character' };
  if (!path.includes('%')) return path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    if (char !== '%') {
      out += char;
      continue;
    }
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: 'the path holds a malformed percent-escape' };
    const code = Number.parseInt(hex, 16);
    if (code === 0x2f || code === 0x5c) return { error: 'the path holds an encoded slash or backslash' };
    if (code < 0x20 || code === 0x7f) return { error: 'the path holds an encoded control character' };
    if (isOverlongLead(code, path, i + 3)) return { error: 'the path holds an overlong UTF-8 escape' };
    const decodedChar = String.fromCharCode(code);
    out += UNRESERVED.test(decodedChar) ? decodedChar : `%${hex.toUpperCase()}`;
    i += 2;
  }
  return out;
}

function resolveSegments(path: string, query: string): NormalizedTarget {
  if (path.includes(';')) return { error: 'the path holds a ; parameter' };
  const output: string[] = [];
  const segments = path.split('/');
  const last = segments.length - 1;
  for (let i = 1; i <= last; i++) {
    const segment = segments[i];
    if (segment === '' && i !== last) continue; // double slashes collapse
    if (segment === '.') {
      if (i === last) output.push('');
      continue;
    }
    if (segment === '..') {
      if (output.length === 0) return { error: 'the path climbs above the root' };
      output.pop();
      if (i === last) output.push('');
      continue;
    }
    output.push(segment);
  }
  return { path: `/${output.join('/')}`, query };
}

/**
 * An overlong UTF-8 form starting at this escape: C0/C1 lead bytes, or E0 and F0 followed
 * by a byte that makes the sequence overlong. No UTF-8 encoder writes them; decoders that
 * accept them (CVE-2008-2938 and its kin) read `%c0%ae` as `.` and `%c0%af` as `/`, so an
 * upstream could climb out of the route the gateway matched. Other bytes above 0x7f are
 * left alone: legacy (Latin-1) paths use them.
 */
function isOverlongLead(code: number, path: string, next: number): boolean {
  if (code === 0xc0 || code === 0xc1) return true;
  if (code !== 0xe0 && code !== 0xf0) return false;
  if (path[next] !== '%') return false;
  const second = Number.parseInt(path.slice(next + 1, next + 3), 16);
  return code === 0xe0 ? second >= 0x80 && second <= 0x9f : second >= 0x80 && second <= 0x8f;
}
