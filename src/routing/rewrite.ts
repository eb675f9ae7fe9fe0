// Path rewrites and redirects, compiled once per route. The rewrite runs on the
// normalized path (the one the route matched), replaces the first match of its regex
// with `$1`-style captures, and its result must itself be a normalized path: a rewrite
// can never produce a dot segment, an encoded slash or a query the route did not see.
import { GatewayError } from '../errors.ts';
import { normalizeTarget } from './normalize-path.ts';
import { MAX_REWRITE_INPUT } from './regex-safety.ts';

export interface RewriteConfig {
  readonly regex: string;
  readonly replacement: string;
}

export interface RedirectConfig {
  readonly location: string;
  readonly status: number;
}

/** Maps a normalized path to the path sent upstream; throws BAD_REQUEST when the result is not a clean path. */
export type PathRewrite = (path: string) => string;

/** Why a replacement or location template is refused, or undefined. */
export function templateProblem(template: string, kind: 'replacement' | 'location'): string | undefined {
  if (/[\s\x00-\x1f\x7f]/.test(template)) return `the ${kind} holds whitespace or a control character`;
  if (kind === 'replacement' && /[?#]/.test(template))
    return 'the replacement cannot add a query or a fragment';
  return undefined;
}

/** The regex must already have passed regexProblem (the config schema checks it). */
export function compileRewrite(config: RewriteConfig): PathRewrite {
  const regex = new RegExp(config.regex);
  const { replacement } = config;
  return (path) => {
    const rewritten = boundedInput(path).replace(regex, replacement);
    // What the route matched was normalized; what goes upstream must be too.
    const normal = normalizeTarget(rewritten);
    if (!('path' in normal) || normal.path !== rewritten || normal.query !== '') {
      throw new GatewayError('BAD_REQUEST', { message: 'The rewritten path is not a valid path' });
    }
    return rewritten;
  };
}

/** The Location of a redirect route: the template with captures from the rewrite regex, if any. */
export type RedirectLocation = (path: string) => string;

export function compileRedirect(
  config: RedirectConfig,
  rewrite: RewriteConfig | undefined,
): RedirectLocation {
  const { location } = config;
  if (!rewrite || !/\$/.test(location)) return () => location;
  const regex = new RegExp(rewrite.regex);
  return (path) => {
    const match = regex.exec(boundedInput(path));
    // A path the regex does not match has no captures: they expand to nothing.
    return location.replace(/\$(\d{1,2})/g, (_text, index: string) => match?.[Number(index)] ?? '');
  };
}

function boundedInput(path: string): string {
  if (path.length <= MAX_REWRITE_INPUT) return path;
  throw new GatewayError('BAD_REQUEST', {
    message: `The path is longer than ${MAX_REWRITE_INPUT} characters, the most this route rewrites`,
  });
}
