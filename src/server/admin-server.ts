// The admin listener: metrics, status, health, readiness and reload. Bound to
// 127.0.0.1 by default and never served on the public port.
import { createServer, type Server } from 'node:http';
import { type AdminGuard, OPEN_PATHS } from '../admin/token.ts';
import { errorBody } from '../errors.ts';
import type { Lifecycle } from './data-plane.ts';
import { sendJson } from './send.ts';

export interface AdminDeps {
  /** The Prometheus text: one gateway's registry, or the sum over its workers. */
  readonly metrics: { readonly registry: { metrics(): Promise<string>; readonly contentType: string } };
  readonly lifecycle: Lifecycle;
  readonly status: () => unknown | Promise<unknown>;
  /** Reloads the config file; resolves with a description of the outcome. */
  readonly reload: () => Promise<{ ok: boolean; errors?: readonly string[] }>;
  /** Checks the admin token on every endpoint but /health and /ready. */
  readonly guard: AdminGuard;
}

export function createAdminServer(deps: AdminDeps): Server {
  return createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const route = `${req.method} ${path}`;
    if (!OPEN_PATHS.has(path) && !deps.guard(req)) {
      res.writeHead(401, {
        'content-type': 'application/json',
        'www-authenticate': 'Bearer realm="gatehouse-admin"',
        'cache-control': 'no-store',
      });
      res.end(
        errorBody('UNAUTHORIZED', 'The admin endpoints need "Authorization: Bearer <admin.token>"', ''),
      );
      return;
    }
    const answer = async () => {
      switch (route) {
        case 'GET /metrics': {
          const text = await deps.metrics.registry.metrics();
          res.writeHead(200, { 'content-type': deps.metrics.registry.contentType });
          res.end(text);
          return;
        }
        case 'GET /status':
          return sendJson(res, 200, await deps.status());
        case 'GET /health':
          return sendJson(res, 200, { status: 'ok' });
        case 'GET /ready': {
          const ready = deps.lifecycle.ready && !deps.lifecycle.draining;
          return sendJson(res, ready ? 200 : 503, {
            status: ready ? 'ready' : deps.lifecycle.draining ? 'draining' : 'starting',
          });
        }
        case 'POST /reload': {
          const result = await deps.reload();
          return sendJson(res, result.ok ? 200 : 422, result);
        }
        default: {
          const body = errorBody(
            'ROUTE_NOT_FOUND',
            'Admin endpoints: GET /metrics, /status, /health, /ready; POST /reload',
            '',
          );
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(body);
        }
      }
    };
    answer().catch((error: unknown) => {
      if (!res.headersSent)
        sendJson(res, 500, { error: { code: 'INTERNAL_ERROR', message: String(error), request_id: '' } });
      else res.destroy();
    });
  });
}
