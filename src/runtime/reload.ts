// Reload: read the file again, compile it, and apply it, or change nothing at all.
// Reloads are serialized (two SIGHUPs in a row never interleave two builds), every
// outcome is logged and counted, and a changed static key (ports, listener limits,
// logging) is reported as needing a restart rather than half-applied.
import { ConfigError, formatProblem } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import type { Logger } from '../observability/logger.ts';
import type { GatewayMetrics } from '../observability/metrics.ts';
import { apply } from './apply.ts';
import { compileFile, type Plan } from './compile.ts';
import type { RuntimeHolder } from './holder.ts';
import type { GatewayRegistry } from './registry.ts';
import type { ReloadHistory } from './reload-history.ts';

export interface ReloadResult {
  readonly ok: boolean;
  readonly errors?: readonly string[];
  /** Keys whose change needs a restart and was not applied. */
  readonly restartRequired?: readonly string[];
}

/** Settings bound to listeners or processes: a reload can't change them. */
export const STATIC_KEYS = [
  'server.host',
  'server.port',
  'server.headers_timeout',
  'server.request_timeout',
  'server.keep_alive_timeout',
  'server.max_header_size',
  'server.max_connections',
  'server.workers',
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
  'tracing',
] as const;

export interface ReloaderDeps {
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  /** The config the listeners were started with: what static keys are compared against. */
  readonly started: Config;
  readonly registry: GatewayRegistry;
  readonly holder: RuntimeHolder;
  readonly metrics: GatewayMetrics;
  readonly logger: Logger;
  /** Where each outcome is remembered for the dashboard. */
  readonly history?: ReloadHistory;
  /** Runs after a plan is in force: the listeners take its certificates. */
  readonly onApplied?: (plan: Plan) => void;
}

export function createReloader(deps: ReloaderDeps): () => Promise<ReloadResult> {
  const { configFile, env, started, registry, holder, metrics, logger, history } = deps;
  let queue: Promise<unknown> = Promise.resolve();

  const reloadOnce = async (): Promise<ReloadResult> => {
    try {
      const { plan } = await compileFile(configFile, env);
      const restartRequired: string[] = STATIC_KEYS.filter(
        (key) => JSON.stringify(pick(plan.config, key)) !== JSON.stringify(pick(started, key)),
      );
      const previous = holder.current.config;
      // Turning TLS on or off changes what the listener is; certificates alone do not.
      if (!plan.config.server.tls !== !started.server.tls) restartRequired.push('server.tls');
      apply(plan, registry, holder);
      deps.onApplied?.(plan);
      metrics.reloaded(true);
      history?.succeeded(previous, plan.config, restartRequired);
      logger.info(
        { restart_required: restartRequired.length > 0 ? restartRequired : undefined },
        'configuration reloaded',
      );
      return { ok: true, restartRequired };
    } catch (error) {
      metrics.reloaded(false);
      const errors =
        error instanceof ConfigError
          ? error.problems.map((p) => formatProblem(error.file, p))
          : [String(error)];
      history?.failed(errors);
      logger.error({ errors }, 'configuration reload failed; the running configuration stays in force');
      return { ok: false, errors };
    }
  };

  return () => {
    const run = queue.then(reloadOnce);
    queue = run;
    return run;
  };
}

function pick(config: Config, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], config);
}
