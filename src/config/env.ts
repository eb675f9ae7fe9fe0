// Environment overrides: every config key can be set by a variable named after its
// path, upper-cased, dots and dashes turned to underscores (SERVER_PORT ->
// server.port, SERVICES_AUTH_URL -> services.auth.url, ROUTES_0_PATH ->
// routes[0].path). Names are resolved against the schema, so a key with an underscore
// of its own (rate_limit.global_burst) is found without any list to maintain.
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { describeNode } from './schema-walk.ts';

export interface EnvOverride {
  readonly variable: string;
  readonly path: readonly (string | number)[];
  readonly value: unknown;
}

export interface EnvResolution {
  readonly overrides: readonly EnvOverride[];
  /** Variables that start like a config key but name none (likely typos). */
  readonly unmatched: readonly string[];
}

type Path = (string | number)[];

const normalize = (key: string) => key.toUpperCase().replace(/[.-]/g, '_');

export function resolveEnvOverrides(
  schema: z.ZodType,
  env: Readonly<Record<string, string | undefined>>,
  fileConfig: unknown,
): EnvResolution {
  const root = describeNode(schema);
  if (root.kind !== 'object') throw new Error('the config schema must be an object');
  const rootPrefixes = Object.keys(root.shape).map((key) => `${normalize(key)}_`);
  const overrides: EnvOverride[] = [];
  const unmatched: string[] = [];
  for (const variable of Object.keys(env).sort()) {
    const raw = env[variable];
    if (raw === undefined || !rootPrefixes.some((prefix) => variable.startsWith(prefix))) continue;
    const found = match(schema, variable.split('_'), 0, [], fileConfig);
    if (found) {
      overrides.push({ variable, path: found.path, value: coerce(found.leaf, raw) });
    } else {
      unmatched.push(variable);
    }
  }
  return { overrides, unmatched };
}

/** Writes the overrides into a plain copy of the parsed file. */
export function applyEnvOverrides(
  fileConfig: unknown,
  overrides: readonly EnvOverride[],
): Record<string, unknown> {
  const result = structuredClone(isPlainObject(fileConfig) ? fileConfig : {}) as Record<string, unknown>;
  for (const { path, value } of overrides) {
    let node: Record<string | number, unknown> = result;
    path.forEach((segment, index) => {
      if (index === path.length - 1) {
        node[segment] = value;
        return;
      }
      const next = node[segment];
      if (typeof next !== 'object' || next === null) {
        node[segment] = typeof path[index + 1] === 'number' ? [] : {};
      }
      node = node[segment] as Record<string | number, unknown>;
    });
  }
  return result;
}

interface Match {
  path: Path;
  leaf: z.ZodType;
}

function match(
  schema: z.ZodType,
  tokens: readonly string[],
  at: number,
  path: Path,
  existing: unknown,
): Match | undefined {
  if (at === tokens.length) return { path, leaf: schema };
  const node = describeNode(schema);
  if (node.kind === 'object') {
    for (const [key, child] of Object.entries(node.shape)) {
      const keyTokens = normalize(key).split('_');
      if (keyTokens.every((token, offset) => tokens[at + offset] === token)) {
        const existingChild = isPlainObject(existing) ? existing[key] : undefined;
        const found = match(child, tokens, at + keyTokens.length, [...path, key], existingChild);
        if (found) return found;
      }
    }
    return undefined;
  }
  if (node.kind === 'record') {
    // The entry's name may itself hold underscores: try every split, shortest first.
    for (let end = at + 1; end <= tokens.length; end++) {
      const wanted = tokens.slice(at, end).join('_');
      const name = existingKey(existing, wanted) ?? wanted.toLowerCase();
      const existingChild = isPlainObject(existing) ? existing[name] : undefined;
      const found = match(node.value, tokens, end, [...path, name], existingChild);
      if (found) return found;
    }
    return undefined;
  }
  if (node.kind === 'array' && /^\d+$/.test(tokens[at])) {
    const index = Number(tokens[at]);
    const existingChild = Array.isArray(existing) ? existing[index] : undefined;
    return match(node.element, tokens, at + 1, [...path, index], existingChild);
  }
  return undefined;
}

function existingKey(existing: unknown, normalized: string): string | undefined {
  if (!isPlainObject(existing)) return undefined;
  return Object.keys(existing).find((key) => normalize(key) === normalized);
}

/** Turns the variable's text into the type the schema expects; zod reports what still doesn't fit. */
function coerce(schema: z.ZodType, raw: string): unknown {
  const node = describeNode(schema);
  const text = raw.trim();
  if (node.kind === 'array') {
    if (text.startsWith('[')) return parseStructured(text);
    return text === ''
      ? []
      : text.split(',').map((item) => coerceScalar(describeNode(node.element), item.trim()));
  }
  if (node.kind === 'object' || node.kind === 'record') return parseStructured(text);
  return coerceScalar(node, text);
}

function coerceScalar(node: ReturnType<typeof describeNode>, text: string): unknown {
  if (node.kind !== 'leaf') return parseStructured(text);
  if (node.type === 'number') return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
  if (node.type === 'boolean') return text === 'true' ? true : text === 'false' ? false : text;
  return text;
}

function parseStructured(text: string): unknown {
  try {
    return parseYaml(text);
  } catch {
    return text;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
