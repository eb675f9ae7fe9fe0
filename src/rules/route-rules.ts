// The traffic rules of one route, compiled at config time: conditions, rewrite,
// redirect, header transforms, and where it forwards (timeout, retries, split). Each
// is null when the route does not use it, so a plain route's requests skip them all.

import { systemClock } from '../clock.ts';
import type { Config, RouteConfig } from '../config/schema.ts';
import type { ForwardTarget } from '../proxy/forward.ts';
import { type Conditions, compileConditions } from '../routing/conditions.ts';
import {
  compileRedirect,
  compileRewrite,
  type PathRewrite,
  type RedirectLocation,
} from '../routing/rewrite.ts';
import { createSplit, type SplitPicker } from '../routing/split.ts';
import { RetryBudget } from '../upstream/retry-budget.ts';
import type { ServicePool } from '../upstream/service-pool.ts';
import { compileHeaderTransform, type HeaderTransform } from './header-transform.ts';

/** The window a route's retry budget is measured over. */
export const RETRY_BUDGET_WINDOW_MS = 10_000;

export interface RouteRules {
  readonly conditions: Conditions | null;
  readonly rewrite: PathRewrite | null;
  readonly redirect: { readonly status: number; readonly location: RedirectLocation } | null;
  readonly requestHeaders: HeaderTransform | null;
  readonly responseHeaders: HeaderTransform | null;
}

export function compileRouteRules(route: RouteConfig): RouteRules {
  return {
    conditions: compileConditions(route.match),
    // A redirect route forwards nothing: its regex only feeds the Location's captures.
    rewrite: route.rewrite && !route.redirect ? compileRewrite(route.rewrite) : null,
    redirect: route.redirect
      ? { status: route.redirect.status, location: compileRedirect(route.redirect, route.rewrite) }
      : null,
    requestHeaders: compileHeaderTransform(route.request_headers),
    responseHeaders: compileHeaderTransform(route.response_headers),
  };
}

export interface RouteTargets {
  /** The route's own service. */
  readonly target: ForwardTarget;
  /** Present on a split route: picks the target (one per split service) for each request. */
  readonly split: SplitPicker<ForwardTarget> | null;
}

/** One target per service the route forwards to; they share the route's timeout and retry budget. */
export function compileTargets(
  route: RouteConfig,
  config: Config,
  pools: ReadonlyMap<string, ServicePool>,
): RouteTargets {
  const retries = route.retries
    ? Object.freeze({
        attempts: route.retries.attempts,
        budget: new RetryBudget(
          {
            ratio: route.retries.budget,
            minRetries: route.retries.min_retries,
            windowMs: RETRY_BUDGET_WINDOW_MS,
          },
          systemClock,
        ),
      })
    : null;
  const targetFor = (serviceName: string): ForwardTarget => {
    const service = config.services[serviceName];
    return Object.freeze({
      pool: pools.get(serviceName)!,
      headersTimeout: route.timeout ?? service.timeout,
      bodyTimeout: service.body_timeout,
      bodyLimit: config.server.body_limit,
      retries,
      passHost: service.pass_host,
    });
  };
  const target = targetFor(route.service);
  const split = route.split
    ? createSplit(
        route.split.map((side) => ({
          weight: side.weight,
          value: side.service === route.service ? target : targetFor(side.service),
        })),
      )
    : null;
  return { target, split };
}
