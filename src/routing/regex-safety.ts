// Which configured regular expressions the gateway agrees to run on request paths.
// V8's engine backtracks, so a regex such as `(a+)+$` takes exponential time on a
// crafted path, and `^(.*)(.*)(.*)x` polynomial time: either lets one request pin a
// core. A linear-time engine (RE2) would remove the question, but its Node binding is
// a native addon: it downloads a prebuilt binary or compiles RE2 and abseil with
// node-gyp against the running Node's headers, neither of which works on the machines
// this project installs on. So the rules below refuse, at config time, what can
// backtrack badly, and the rewrite bounds the input it runs on (MAX_REWRITE_INPUT).
//
// - star height 1: no quantifier inside a quantified group (`(a+)+`, `(a*)*`) —
//   checked by safe-regex2 (fastify's), which also caps the number of repetitions;
// - no quantified group holding an alternation (`(a|ab)*`): overlapping branches
//   backtrack like nested quantifiers; write a character class instead;
// - no back-references and no lookaround: neither is needed to rewrite a path;
// - anchored with `^`: an unanchored regex is retried from every position, one
//   polynomial degree more;
// - at most two unbounded quantifiers (`*`, `+`, `{n,}` or more than 16 repeats), so
//   the worst case is quadratic in the (bounded) path length.
import type { Root, Token } from 'ret';
import * as ret from 'ret';
import safeRegex from 'safe-regex2';

// ret is CommonJS whose module.exports is the tokenizer itself; its typings describe the ES shape.
const tokenize = ret.default as unknown as (source: string) => Root;
const { types } = ret;

/** Longest path a rewrite regex is run on: quadratic worst case stays within milliseconds. */
export const MAX_REWRITE_INPUT = 2048;

const MAX_UNBOUNDED = 2;
const BOUNDED_LIMIT = 16;

/** Why `source` is refused, or undefined when the gateway agrees to run it. */
export function regexProblem(source: string): string | undefined {
  try {
    new RegExp(source);
  } catch (error) {
    return `not a valid regular expression: ${(error as Error).message}`;
  }
  if (!safeRegex(source)) {
    return 'can backtrack catastrophically: a quantifier is nested inside a repeated group, or there are too many repetitions';
  }
  if (!source.startsWith('^')) return 'must be anchored with ^ at the start';
  let tree: Root;
  try {
    tree = tokenize(source);
  } catch (error) {
    return `not a supported regular expression: ${(error as Error).message}`;
  }
  const found = { unbounded: 0, problem: undefined as string | undefined };
  walk(tree, false, found);
  if (found.problem) return found.problem;
  if (found.unbounded > MAX_UNBOUNDED) {
    return `has ${found.unbounded} unbounded quantifiers (*, +, {n,}); at most ${MAX_UNBOUNDED} are allowed, so matching stays quadratic at worst`;
  }
  return undefined;
}

function walk(
  token: Root | Token,
  repeated: boolean,
  found: { unbounded: number; problem: string | undefined },
): void {
  if (found.problem) return;
  switch (token.type) {
    case types.REFERENCE:
      found.problem = 'uses a back-reference, which can backtrack exponentially';
      return;
    case types.REPETITION:
      if (token.max === Number.POSITIVE_INFINITY || token.max > BOUNDED_LIMIT) found.unbounded++;
      walk(token.value, true, found);
      return;
    case types.ROOT:
    case types.GROUP: {
      if (token.type === types.GROUP && (token.followedBy || token.notFollowedBy || token.lookBehind)) {
        found.problem = 'uses a lookaround, which path rewrites do not need';
        return;
      }
      if (token.options) {
        if (repeated) {
          found.problem =
            'repeats a group with alternatives (|), which can backtrack catastrophically; use a character class';
          return;
        }
        for (const option of token.options) for (const child of option) walk(child, repeated, found);
      }
      if (token.stack) for (const child of token.stack) walk(child, repeated, found);
      return;
    }
    default:
      return;
  }
}
