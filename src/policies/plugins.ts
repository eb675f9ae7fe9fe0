// Plugins: policies users write as TypeScript (or JavaScript) modules, named in the
// top-level `plugins:` section and placed in routes[].policies. This is their compile
// step: it loads each module, checks its options against the schema the module
// exports, and calls its factory, so every way a plugin can be wrong is a config
// problem with its path and line, in `validate` as at start and reload:
// - the file cannot be read, or throws while it is imported;
// - it has no default export function (the factory), or was written for another
//   plugin API version;
// - its options fail its `optionsSchema` (each issue at plugins.<name>.options.<path>);
// - the factory throws, or returns (or resolves to) something that is not a function.
//
// A module's URL carries a hash of its file, so a reload after the file changed
// imports the new code (ESM caches a module by URL for the life of the process). Only
// that file is re-imported: modules it imports itself stay as first loaded, and every
// version loaded stays in memory, which is bounded by the number of edits.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Config } from '../config/schema.ts';
import type { PluginPolicy } from './chain.ts';
import type { Policy } from './policy.ts';

/** The plugin API this gateway implements; a module may say which one it was written for. */
export const PLUGIN_API_VERSION = 1;

/** Handed to a plugin's factory with its options. */
export interface PluginContext {
  /** The plugin's name in the plugins section (and in routes[].policies, logs and metrics). */
  readonly name: string;
  /** PLUGIN_API_VERSION of the gateway loading the plugin. */
  readonly apiVersion: number;
  /** The directory of the config file: where relative paths in options are meant from. */
  readonly configDir: string;
}

/** One problem of an options check, as zod (or any schema with the same shape) reports it. */
export interface OptionsIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly code?: string;
  /** zod's unrecognized_keys issue names the keys: each is reported at its own line. */
  readonly keys?: readonly string[];
}

/** What a module may export as `optionsSchema`: a zod schema, or anything with a zod-like safeParse. */
export interface OptionsSchema<Options> {
  safeParse(
    input: unknown,
  ):
    | { readonly success: true; readonly data: Options }
    | { readonly success: false; readonly error: { readonly issues: readonly OptionsIssue[] } };
}

/** The factory a plugin module exports by default. It may be async (read a file, precompute). */
export type PluginFactory<Options = Record<string, unknown>> = (
  options: Options,
  context: PluginContext,
) => Policy | Promise<Policy>;

/** The shape of a plugin module. */
export interface PluginModule<Options = Record<string, unknown>> {
  readonly default: PluginFactory<Options>;
  readonly optionsSchema?: OptionsSchema<Options>;
  /** The plugin API the module was written for; absent means the current one. */
  readonly apiVersion?: number;
}

/** Where the compile step reports a problem (runtime/compile.ts adds the line). */
export interface PluginProblems {
  add(path: readonly (string | number)[], message: string): void;
}

/** Loads and creates every plugin of the config; an empty map when there are none. */
export async function compilePlugins(
  config: Config,
  problems: PluginProblems,
  configDir: string,
): Promise<ReadonlyMap<string, PluginPolicy>> {
  const plugins = new Map<string, PluginPolicy>();
  for (const [name, plugin] of Object.entries(config.plugins ?? {})) {
    const policy = await createPlugin(
      name,
      plugin.module,
      plugin.options,
      plugin.timeout,
      configDir,
      problems,
    );
    if (policy !== undefined) plugins.set(name, Object.freeze({ policy, timeoutMs: plugin.timeout }));
  }
  return plugins;
}

async function createPlugin(
  name: string,
  module: string,
  options: unknown,
  timeoutMs: number,
  configDir: string,
  problems: PluginProblems,
): Promise<Policy | undefined> {
  const at = (...path: (string | number)[]) => ['plugins', name, ...path];
  const file = isAbsolute(module) ? module : resolve(configDir, module);
  let loaded: Partial<PluginModule<unknown>>;
  try {
    const digest = createHash('sha256')
      .update(await readFile(file))
      .digest('hex')
      .slice(0, 16);
    loaded = (await within(timeoutMs, import(`${pathToFileURL(file).href}?v=${digest}`))) as Partial<
      PluginModule<unknown>
    >;
  } catch (error) {
    problems.add(at('module'), `cannot load ${module}: ${messageOf(error)}`);
    return undefined;
  }
  if (typeof loaded.default !== 'function') {
    problems.add(at('module'), `${module} must export a factory function as its default export`);
    return undefined;
  }
  if (loaded.apiVersion !== undefined && loaded.apiVersion !== PLUGIN_API_VERSION) {
    problems.add(
      at('module'),
      `${module} was written for plugin API ${String(loaded.apiVersion)}; this gateway has ${PLUGIN_API_VERSION}`,
    );
    return undefined;
  }

  let checked: unknown = options ?? {};
  const schema = loaded.optionsSchema;
  if (schema !== undefined) {
    if (typeof schema?.safeParse !== 'function') {
      problems.add(
        at('module'),
        `${module} exports an optionsSchema without safeParse (expected a zod schema)`,
      );
      return undefined;
    }
    const result = schema.safeParse(checked);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const path = issue.path.filter((key): key is string | number => typeof key !== 'symbol');
        if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) {
          for (const key of issue.keys) problems.add(at('options', ...path, key), 'unknown key');
        } else {
          problems.add(at('options', ...path), issue.message);
        }
      }
      return undefined;
    }
    checked = result.data;
  }

  let policy: unknown;
  try {
    const context: PluginContext = Object.freeze({ name, apiVersion: PLUGIN_API_VERSION, configDir });
    policy = await within(timeoutMs, Promise.resolve(loaded.default(checked, context)));
  } catch (error) {
    problems.add(at('module'), `${module}: its factory failed: ${messageOf(error)}`);
    return undefined;
  }
  if (typeof policy !== 'function') {
    problems.add(
      at('module'),
      `${module}: its factory returned ${policy === null ? 'null' : typeof policy}, not a policy function`,
    );
    return undefined;
  }
  return policy as Policy;
}

/** A module or factory that never settles must not hang validate, start or a reload. */
async function within<T>(timeoutMs: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(
      () => reject(new Error(`did not finish within ${timeoutMs} ms (its timeout)`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] : String(error);
}
