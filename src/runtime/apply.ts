// apply(plan) -> Runtime: the half of applying a config that changes the running
// gateway, and the only one. It takes the components the plan needs from the registry
// (new ones created, unchanged ones reused: pools, health, breakers, the auth cache and
// the rate-limit buckets survive), assembles the snapshot, and puts it in force with
// one assignment. What the new snapshot replaced is retired by the holder once the
// last request pinned to an older snapshot has ended.
//
// It runs synchronously from start to swap, so no request sees a registry that is
// half-way between two configs, and it cannot fail on a compiled plan: every check
// ran in compile. To apply a new section: compute what can fail in its compile step
// (runtime/compile.ts), then create or reuse its long-lived part in
// GatewayRegistry.componentsFor (or, for listeners, beside the servers) and read it
// in buildRuntime.
import { buildRuntime, type Runtime } from './build.ts';
import type { Plan } from './compile.ts';
import type { RuntimeHolder } from './holder.ts';
import type { GatewayRegistry } from './registry.ts';

export function apply(plan: Plan, registry: GatewayRegistry, holder: RuntimeHolder): Runtime {
  const components = registry.componentsFor(plan.config, plan.tls, plan.apiKeys);
  const runtime = buildRuntime(plan, components);
  holder.swap(runtime, components.retire);
  return runtime;
}
