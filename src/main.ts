// Composition root: config, logger, metrics, registry, runtime, listeners, reload and
// shutdown. Tests start gateways through startGateway exactly as the CLI does.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DestinationStream } from 'pino';
import { ConfigError, formatProblem, loadConfigFile } from './config/load.ts';
import type { Config } from './config/schema.ts';
import { watchConfigFile } from './config/watch.ts';
import { createLoggers, type Logger } from './observability/logger.ts';
import { GatewayMetrics } from './observability/metrics.ts';
import { buildRuntime } from './runtime/build.ts';
import { RuntimeHolder } from './runtime/holder.ts';
import { GatewayRegistry } from './runtime/registry.ts';
import { createAdminServer } from './server/admin-server.ts';
import { createDataPlane } from './server/data-plane.ts';
import { PublicListeners } from './server/public-listeners.ts';
import type { PublicListener } from './server/tls-listener.ts';
import { createUpgradeHandler, shouldTunnel, type UpgradeHandler } from './server/upgrade.ts';
import { loadTlsMaterial, type TlsLoad } from './tls/certificates.ts';

export interface GatewayOptions {
  readonly configFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Where logs go (stdout by default); tests pass a stream to read them. */
  readonly logDestination?: DestinationStream;
  /** DNS servers for discovery, for tests that run their own. */
  readonly dnsServers?: readonly string[];
  /** Reload when the config file changes (default true). */
  readonly watch?: boolean;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly errors?: readonly string[];
  /** Keys whose change needs a restart and was not applied. */
  readonly restartRequired?: readonly string[];
}

export interface Gateway {
  /** The listener on server.port: https:// when that port speaks TLS. */
  readonly url: string;
  /** The HTTPS listener, when server.tls is set. */
  readonly httpsUrl: string | undefined;
  /** The 308 listener of server.redirect_http_port. */
  readonly redirectUrl: string | undefined;
  readonly adminUrl: string | undefined;
  readonly logger: Logger;
  readonly config: Config;
  reload(): Promise<ReloadResult>;
  /** Drains and stops: readiness goes 503, in-flight requests finish, then everything closes. */
  shutdown(): Promise<void>;
}

/** Settings bound to listeners or processes: a reload can't change them. */
const STATIC_KEYS = [
  'server.host',
  'server.port',
  'server.headers_timeout',
  'server.request_timeout',
  'server.keep_alive_timeout',
  'server.max_header_size',
  'server.max_connections',
  'server.http2',
  'server.http2_max_concurrent_streams',
  'server.http2_max_resets',
  'server.http2_reset_window',
  'server.redirect_http_port',
  'server.hsts',
  'server.tls.port',
  'server.tls.client_ca_file',
  'server.tls.ticket_key_rotation',
  'admin',
  'log',
] as const;

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const env = options.env ?? process.env;
  const loaded = await loadConfigFile(options.configFile, env);
  const config = loaded.config;
  const tls = checkedTls(options.configFile, config);
  const { logger, accessLog } = createLoggers(config.log.level, options.logDestination);
  for (const warning of tls.warnings) logger.warn({ path: warning.path }, warning.message);
  for (const variable of loaded.ignoredVariables) {
    logger.warn({ variable }, 'environment variable looks like a config override but names no key; ignored');
  }

  let metrics: GatewayMetrics | undefined;
  const registry = new GatewayRegistry(logger, () => metrics, options.dnsServers);
  metrics = new GatewayMetrics(registry.upstreams);
  const holder = new RuntimeHolder(buildRuntime(config, registry));
  const lifecycle = { ready: false, draining: false };

  const tunnels = createUpgradeHandler({ holder, logger, accessLog, metrics });
  const listeners = new PublicListeners(
    config,
    tls.material.server,
    {
      request: createDataPlane({ holder, logger, accessLog, metrics, lifecycle }),
      shouldUpgrade: shouldTunnel(holder),
      upgrade: tunnels.handle,
    },
    { logger, metrics, watch: options.watch !== false },
  );
  let reloading: Promise<ReloadResult> | undefined;
  const reload = (): Promise<ReloadResult> => {
    // Reloads are serialized: two SIGHUPs in a row must not interleave two builds.
    const run = (reloading ?? Promise.resolve()).then(() => reloadOnce());
    reloading = run.finally(() => {
      if (reloading === run) reloading = undefined;
    }) as Promise<ReloadResult>;
    return run;
  };
  const reloadOnce = async (): Promise<ReloadResult> => {
    try {
      const next = await loadConfigFile(options.configFile, env);
      const nextTls = checkedTls(options.configFile, next.config);
      const restartRequired: string[] = STATIC_KEYS.filter(
        (key) => JSON.stringify(pick(next.config, key)) !== JSON.stringify(pick(config, key)),
      );
      if (!config.server.tls !== !next.config.server.tls) restartRequired.push('server.tls');
      holder.swap(buildRuntime(next.config, registry));
      listeners.applyConfig(next.config, nextTls.material.server);
      for (const warning of nextTls.warnings) logger.warn({ path: warning.path }, warning.message);
      metrics!.reloaded(true);
      logger.info(
        { restart_required: restartRequired.length > 0 ? restartRequired : undefined },
        'configuration reloaded',
      );
      return { ok: true, restartRequired };
    } catch (error) {
      metrics!.reloaded(false);
      const errors =
        error instanceof ConfigError
          ? error.problems.map((p) => formatProblem(error.file, p))
          : [String(error)];
      logger.error({ errors }, 'configuration reload failed; the running configuration stays in force');
      return { ok: false, errors };
    }
  };

  const adminServer = config.admin.enabled
    ? createAdminServer({
        metrics,
        lifecycle,
        status: () => ({ services: registry.upstreams.status() }),
        reload,
      })
    : undefined;

  try {
    await listeners.listen();
    if (adminServer) await listen(adminServer, config.admin.port, config.admin.host);
  } catch (error) {
    listeners.close();
    for (const listener of listeners.all) listener.close();
    adminServer?.close();
    await registry.close();
    throw error;
  }
  // Health-checked instances wait for their first probe (at most one probe timeout):
  // readiness says 200 only once traffic has somewhere to go.
  await registry.upstreams.ready();
  lifecycle.ready = true;
  const watcher =
    options.watch === false
      ? undefined
      : watchConfigFile(options.configFile, reload, {
          onError: (error) =>
            logger.warn({ err: error }, 'config file watch failed; SIGHUP and POST /reload still work'),
        });
  const url = listeners.url;
  const adminUrl = adminServer && urlOf(adminServer);
  logger.info(
    {
      url,
      https_url: listeners.httpsUrl,
      redirect_url: listeners.redirectUrl,
      admin_url: adminUrl,
      routes: config.routes.length,
    },
    'gateway listening',
  );

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    watcher?.close();
    listeners.close();
    stopping ??= drain(
      listeners.all,
      adminServer,
      tunnels,
      registry,
      lifecycle,
      holder.current.config.server.shutdown_timeout,
      logger,
    );
    return stopping;
  };

  return {
    url,
    httpsUrl: listeners.httpsUrl,
    redirectUrl: listeners.redirectUrl,
    adminUrl,
    logger,
    get config() {
      return holder.current.config;
    },
    reload,
    shutdown,
  };
}

async function drain(
  publicServers: readonly PublicListener[],
  adminServer: Server | undefined,
  tunnels: UpgradeHandler,
  registry: GatewayRegistry,
  lifecycle: { draining: boolean },
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  lifecycle.draining = true;
  logger.info({ timeout_ms: timeoutMs }, 'draining: no new connections, finishing in-flight requests');
  // HTTP/2 connections get GOAWAY from close(): their open streams finish, no new ones start.
  const closed = Promise.all(
    publicServers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
  );
  // Connections that finish their last response while we drain go idle: close them too.
  const idleSweep = setInterval(() => {
    for (const server of publicServers) server.closeIdleConnections();
  }, 100);
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const result = await Promise.race([closed.then(() => 'drained' as const), deadline]);
  clearInterval(idleSweep);
  clearTimeout(timer);
  if (result === 'timeout') {
    logger.warn('shutdown deadline reached: closing the remaining connections');
    for (const server of publicServers) server.closeAllConnections();
    tunnels.destroyAll();
  }
  adminServer?.closeAllConnections();
  adminServer?.close();
  await registry.close();
  logger.info('gateway stopped');
  await new Promise<void>((resolve) => logger.flush(() => resolve()));
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

/** The config's certificate files, read and checked: refused the same way as a schema error. */
function checkedTls(configFile: string, config: Config): TlsLoad {
  const tls = loadTlsMaterial(config);
  if (tls.problems.length > 0) throw new ConfigError(configFile, tls.problems);
  return tls;
}

function urlOf(server: Server): string {
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host === '[::]' ? '[::1]' : host}:${address.port}`;
}

function pick(config: Config, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
}
