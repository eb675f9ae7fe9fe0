// The public interface for plugins, imported as `gatehouse/plugin`. It is versioned:
// PLUGIN_API_VERSION changes only when a change would break a plugin written for the
// previous version, and a module may export `apiVersion` to be refused (with a clear
// config error) by a gateway that does not implement it. docs/PLUGINS.md explains it.
//
// Everything here but GatewayError and PLUGIN_API_VERSION is a type: a plugin that
// only answers locally or sets headers imports nothing at run time.
export type { Identity } from './auth/identity.ts';
export { type ErrorCode, GatewayError } from './errors.ts';
export {
  type OptionsIssue,
  type OptionsSchema,
  PLUGIN_API_VERSION,
  type PluginContext,
  type PluginFactory,
  type PluginModule,
} from './policies/plugins.ts';
export type {
  LocalReply,
  Policy,
  PolicyLogger,
  PolicyRequest,
  PolicyResult,
} from './policies/policy.ts';
