// Example plugin: multi-tenant routing facts. The tenant comes from the X-Tenant
// request header (or the `tenant` query parameter); a known tenant is forwarded as
// X-Tenant-ID and echoed to the client as X-Tenant, an unknown one is 403 FORBIDDEN,
// a request naming none gets the plugin's own 400 answer.
//
//   plugins:
//     tenant:
//       module: ./plugins/tenant.ts
//       options: { tenants: [acme, globex] }
//   routes:
//     - { path: /api, service: api, policies: [tenant] }
import { GatewayError, type PluginFactory, type Policy } from 'gatehouse/plugin';
import { z } from 'zod';

export const apiVersion = 1;

export const optionsSchema = z.strictObject({
  tenants: z.array(z.string().regex(/^[a-z0-9-]+$/, 'a tenant is lower-case letters, digits and -')).min(1),
  upstream_header: z.string().default('X-Tenant-ID'),
});

type Options = z.output<typeof optionsSchema>;

const create: PluginFactory<Options> = (options): Policy => {
  // Precomputed once per config: the request path only looks up a set.
  const known = new Set(options.tenants);
  return (request) => {
    const tenant =
      request.headers['x-tenant'] ?? new URLSearchParams(request.query).get('tenant') ?? undefined;
    if (typeof tenant !== 'string' || tenant === '') {
      return {
        status: 400,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ error: { code: 'TENANT_REQUIRED', request_id: request.requestId } }),
      };
    }
    if (!known.has(tenant)) throw new GatewayError('FORBIDDEN', { message: 'Unknown tenant' });
    request.setUpstreamHeader(options.upstream_header, tenant);
    request.setResponseHeader('X-Tenant', tenant);
  };
};

export default create;
