// Reads, overrides and validates a config file in one go. Either the whole file is
// valid and a deeply frozen Config comes back, or a ConfigError lists every problem
// with its path (and line, or the environment variable that set it).
import { readFile } from 'node:fs/promises';
import { type Document, isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { applyEnvOverrides, type EnvOverride, resolveEnvOverrides } from './env.ts';
import { type Config, configSchema } from './schema.ts';

export interface ConfigProblem {
  /** Dotted path such as routes.0.service; empty for the file as a whole. */
  readonly path: string;
  readonly message: string;
  /** 1-based line in the file, when the problem points at something written there. */
  readonly line?: number;
  /** The environment variable that supplied the value, when one did. */
  readonly variable?: string;
}

export class ConfigError extends Error {
  readonly file: string;
  readonly problems: readonly ConfigProblem[];

  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(
      `invalid configuration in ${file}:\n${problems.map((p) => `  ${formatProblem(file, p)}`).join('\n')}`,
    );
    this.name = 'ConfigError';
    this.file = file;
    this.problems = problems;
  }
}

/** Where a config came from: the file, and for any path the line (or variable) that set it. */
export interface ConfigSource {
  readonly file: string;
  locate(path: readonly (string | number)[]): { line?: number; variable?: string };
}

export interface LoadedConfig {
  readonly config: Config;
  /** Environment variables that look like overrides but name no key. */
  readonly ignoredVariables: readonly string[];
  /** For checks after the schema (runtime/compile.ts): names the line of each problem. */
  readonly source: ConfigSource;
}

/** A source without a file, for configs built in code: problems carry paths only. */
export function inlineSource(name = '(config)'): ConfigSource {
  return { file: name, locate: () => ({}) };
}

export function formatProblem(file: string, problem: ConfigProblem): string {
  const where = problem.variable
    ? `env ${problem.variable}`
    : problem.line
      ? `${file}:${problem.line}`
      : file;
  return `${where}: ${problem.path || '(root)'}: ${problem.message}`;
}

export async function loadConfigFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(file, [{ path: '', message: `cannot read the file: ${(error as Error).message}` }]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = {}): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((error) => ({
        path: '',
        message: `YAML: ${error.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
        line: error.linePos?.[0].line,
      })),
    );
  }
  const fromFile: unknown = doc.toJS() ?? {};
  if (typeof fromFile !== 'object' || Array.isArray(fromFile)) {
    throw new ConfigError(file, [{ path: '', message: 'the file must hold a YAML mapping (key: value)' }]);
  }
  const { overrides, unmatched } = resolveEnvOverrides(configSchema, env, fromFile);
  const merged = applyEnvOverrides(fromFile, overrides);
  const result = configSchema.safeParse(merged);
  if (!result.success) {
    throw new ConfigError(
      file,
      result.error.issues.flatMap((issue) => toProblems(issue, merged, doc, lines, overrides)),
    );
  }
  return {
    config: deepFreeze(result.data),
    ignoredVariables: unmatched,
    source: { file, locate: (path) => locate(doc, lines, overrides, path) },
  };
}

function toProblems(
  issue: z.core.$ZodIssue,
  input: unknown,
  doc: Document,
  lines: LineCounter,
  overrides: readonly EnvOverride[],
): ConfigProblem[] {
  const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => ({
      path: [...path, key].join('.'),
      message: 'unknown key',
      ...locate(doc, lines, overrides, [...path, key]),
    }));
  }
  return [
    {
      path: path.join('.'),
      message: messageOf(issue, valueAt(input, path)),
      ...locate(doc, lines, overrides, path),
    },
  ];
}

function messageOf(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code !== 'invalid_type') return issue.message;
  if (value === undefined) return 'required';
  return `${issue.message} (found ${JSON.stringify(value)})`;
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let node = input;
  for (const segment of path) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string | number, unknown>)[segment];
  }
  return node;
}

export function locate(
  doc: Document,
  lines: LineCounter,
  overrides: readonly EnvOverride[],
  path: readonly (string | number)[],
): { line?: number; variable?: string } {
  const override = overrides.find(
    (o) => o.path.length <= path.length && o.path.every((segment, i) => segment === path[i]),
  );
  if (override) return { variable: override.variable };
  // Walk down as far as the document goes: a missing key points at its parent.
  let node: unknown = doc.contents;
  let offset: number | undefined = (doc.contents as { range?: [number] } | null)?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === segment);
      if (!pair) break;
      offset = (pair.key as { range?: [number] }).range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment]) {
      node = node.items[segment];
      offset = (node as { range?: [number] }).range?.[0] ?? offset;
    } else {
      break;
    }
  }
  return offset === undefined ? {} : { line: lines.linePos(offset).line };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
