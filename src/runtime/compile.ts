// compile(config) -> Plan: the pure half of applying a config. It runs every check
// that can still fail once the schema has passed (addresses, keys, anything a
// component would otherwise throw on while being built) and precomputes what apply
// needs, touching nothing that runs: no sockets, no timers, no running state.
// Either every check passes and a frozen Plan comes back, or one ConfigError lists
// every problem with its config path and line (or environment variable).
//
// `gatehouse validate`, start and reload all go through compileFile(), so a file that
// validates is a file that start and reload accept.
import { dirname, resolve } from 'node:path';
import { type CompiledApiKeys, compileApiKeys } from '../auth/api-keys-compile.ts';
import { staticKey } from '../auth/static-key.ts';
import {
  ConfigError,
  type ConfigProblem,
  type ConfigSource,
  inlineSource,
  loadConfigFile,
} from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { PluginPolicy } from '../policies/chain.ts';
import { compilePlugins } from '../policies/plugins.ts';
import { createCidrList } from '../proxy/cidr-list.ts';
import { type ClientAddressResolver, createClientAddressResolver } from '../proxy/client-address.ts';
import { loadTlsMaterial, type TlsMaterial } from '../tls/certificates.ts';

/** A config checked and precomputed, ready for apply(); nothing in it runs yet. */
export interface Plan {
  readonly config: Config;
  /** server.trusted_proxies as a resolver of the client's address. */
  readonly resolveClientIp: ClientAddressResolver;
  /** Certificates and keys read from the files the config names, checked. */
  readonly tls: TlsMaterial;
  /** Worth logging, not refusing: an expired certificate with server.tls.expired: warn. */
  readonly tlsWarnings: readonly ConfigProblem[];
  /** server.trusted_proxies as a check of the TCP peer: whose X-Forwarded-* headers are kept. */
  readonly trustsPeer: (peer: string) => boolean;
  /** The plugins' policies, created from their modules and options, by name. */
  readonly plugins: ReadonlyMap<string, PluginPolicy>;
  /** The api_keys section with its keys file read and checked; undefined without one. */
  readonly apiKeys: CompiledApiKeys | undefined;
}

/** Where a compile step reports what is wrong; compile adds the line and throws them all together. */
export interface Problems {
  add(path: readonly (string | number)[], message: string): void;
}

/**
 * One section's compile step: reads the validated config, reports each problem at the
 * path it concerns, and returns what apply needs precomputed (or undefined when it
 * reported a problem: the Plan is then never built). It must stay pure: it may read
 * files and parse, but never open a socket, start a timer or touch running state.
 */
export type CompileStep<T> = (config: Config, problems: Problems) => T | Promise<T>;

/** Loads, validates and compiles a config file: the one entry of validate, start and reload. */
export async function compileFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ plan: Plan; ignoredVariables: readonly string[]; source: ConfigSource }> {
  const loaded = await loadConfigFile(file, env);
  return {
    plan: await compile(loaded.config, loaded.source),
    ignoredVariables: loaded.ignoredVariables,
    source: loaded.source,
  };
}

export async function compile(config: Config, source: ConfigSource = inlineSource()): Promise<Plan> {
  const found: ConfigProblem[] = [];
  const problems: Problems = {
    add: (path, message) => found.push({ path: path.join('.'), message, ...source.locate(path) }),
  };

  // The compile steps, one per section that can fail past the schema. To add one
  // (certificate files, plugin modules, rewrite patterns...): write a CompileStep
  // beside the code it guards, give its result a field in Plan, and call it here;
  // apply() (runtime/apply.ts) then reads that field. A step with nothing to hand
  // over returns void and is simply called.
  const resolveClientIp = await compileTrustedProxies(config, problems);
  await checkAuthKey(config, problems);
  await checkRedisUrl(config, problems);
  const plugins = await compilePlugins(config, problems, dirname(resolve(source.file)));
  const apiKeys = compileApiKeys(config, problems, source.file);
  const tls = compileTls(config, problems);

  if (found.length > 0) throw new ConfigError(source.file, found);
  return Object.freeze({
    config,
    resolveClientIp: resolveClientIp!,
    // The entries were checked above: this can no longer throw.
    trustsPeer: createCidrList(config.server.trusted_proxies, 'server.trusted_proxies'),
    plugins,
    apiKeys,
    tls: tls.material,
    tlsWarnings: tls.warnings.map((warning) => ({ ...warning, ...source.locate(pathOf(warning.path)) })),
  });
}

/** server.trusted_proxies: each entry an address or CIDR the resolver can hold. */
const compileTrustedProxies: CompileStep<ClientAddressResolver | undefined> = (config, problems) => {
  const entries = config.server.trusted_proxies;
  let valid = true;
  entries.forEach((entry, index) => {
    try {
      createClientAddressResolver([entry]);
    } catch (error) {
      valid = false;
      problems.add(['server', 'trusted_proxies', index], (error as Error).message);
    }
  });
  return valid ? createClientAddressResolver(entries) : undefined;
};

/**
 * Every certificate file the config names (server.tls, services.*.tls, auth.tls):
 * readable, PEM that parses, keys matching their certificates, listener certificates
 * not expired (or only warned about with server.tls.expired: warn).
 */
const compileTls = (config: Config, problems: Problems): ReturnType<typeof loadTlsMaterial> => {
  const loaded = loadTlsMaterial(config);
  for (const problem of loaded.problems) problems.add(pathOf(problem.path), problem.message);
  return loaded;
};

function pathOf(dotted: string): (string | number)[] {
  return dotted.split('.').map((segment) => (/^\d+$/.test(segment) ? Number(segment) : segment));
}

/** auth.public_key: a PEM public key that one of auth.algorithms can use. */
const checkAuthKey: CompileStep<void> = (config, problems) => {
  const auth = config.auth;
  if (auth?.mode !== 'jwt' || auth.public_key === undefined) return;
  try {
    staticKey(auth.public_key, auth.algorithms);
  } catch (error) {
    const message = (error as Error).message;
    // node's own words for a PEM it cannot read are opaque (error:1E08010C:DECODER routines::unsupported).
    problems.add(
      ['auth', 'public_key'],
      message.startsWith('auth.public_key')
        ? message
        : `not a PEM public key (-----BEGIN PUBLIC KEY-----...): ${message}`,
    );
  }
};

/** rate_limit.redis_url: a URL the Redis client can parse (the schema only checks its scheme). */
const checkRedisUrl: CompileStep<void> = (config, problems) => {
  const rateLimit = config.rate_limit;
  if (rateLimit?.store !== 'redis') return;
  if (!URL.canParse(rateLimit.redis_url)) problems.add(['rate_limit', 'redis_url'], 'not a valid URL');
};
